/**
 * Which carriage a session's WireGuard messages take (see @wiregate/relay-protocol's frames.ts):
 * what the client asked for, and for `auto` the relay's pick. Measured (docs/performance.md): in
 * browsers a message on a stream costs a fraction of a datagram, over HTTP/3 and over the
 * WebSocket mapping alike, so `auto` takes the stream everywhere.
 */

import type { Carriage, CarriageChoice, RelayTransport } from "@wiregate/relay-protocol";

export interface CarriageDecision {
  carriage: Carriage;
  reason: string;
}

export function chooseCarriage(
  asked: CarriageChoice | undefined,
  transport: RelayTransport,
): CarriageDecision {
  if (asked === undefined) {
    return { carriage: "datagrams", reason: "the client asked for no carriage" };
  }
  if (asked !== "auto") return { carriage: asked, reason: "the client asked for it" };
  return {
    carriage: "stream",
    reason:
      transport === "http3"
        ? "auto: a stream moves several times the messages of datagrams in browsers"
        : "auto: over a reliable transport the stream batches messages into fewer writes",
  };
}
