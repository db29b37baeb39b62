/**
 * Counts what the sessions lost out of the relay's sight: the HTTP/3 sessions' QUIC losses
 * (HTTP/2 and WebSocket are reliable; transport-losses.ts) and the kernel's drops on every
 * session's upstream socket (socket-drops.ts). The relay runs it at each scrape and on its idle
 * sweep, since a session its client closed no longer answers.
 */

import type { RelaySession } from "./session.js";
import { readUdpDrops } from "./socket-drops.js";
import { readAll, shared } from "./transport-losses.js";

/** How long one reading waits for the sessions' transport counters before counting what it has. */
const TRANSPORT_LOSS_READ_MS = 1_000;

/** A reading of `sessions`' unseen losses into the relay's counters; callers during one share it. */
export function unseenLossReader(sessions: () => Iterable<RelaySession>): () => Promise<void> {
  return shared(async () => {
    const open = [...sessions()];
    const http3 = open.flatMap((s) => (s.ctx.transport === "http3" ? [s.transportLosses] : []));
    const [socketDrops] = await Promise.all([
      readUdpDrops(),
      readAll(http3, TRANSPORT_LOSS_READ_MS),
    ]);
    for (const session of open) session.countSocketDrops(socketDrops);
  });
}
