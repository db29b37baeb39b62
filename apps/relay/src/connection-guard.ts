/**
 * Limits on the TLS port's connections themselves, before any session: how many per address and
 * in total, how long one may stay open carrying no session or request, and how many HTTP/2 streams
 * it may have at once. Without these a client holds descriptors for as long as it likes (the
 * library even pings every HTTP/2 connection each second, which keeps it busy).
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2SecureServer, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import { addressGroup } from "./address-group.js";
import type { Limits } from "./config.js";
import { KeyedBudget } from "./keyed-budget.js";
import type { RefusalAudit } from "./refusal-audit.js";

type GuardLimits = Pick<
  Limits,
  "maxConnections" | "maxConnectionsPerAddress" | "connectionIdleMs" | "maxStreamsPerConnection"
>;

/** One TCP connection: what it carries now, and the timer that closes it when that is nothing. */
interface Tracked {
  socket: Socket;
  active: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const keyOf = (socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }) =>
  `${socket.remoteAddress}|${socket.remotePort}`;

export function guardConnections(
  h2: Http2SecureServer,
  limits: GuardLimits,
  audit: RefusalAudit,
): void {
  h2.updateSettings({ maxConcurrentStreams: limits.maxStreamsPerConnection });
  const budget = new KeyedBudget({
    total: limits.maxConnections,
    perKey: limits.maxConnectionsPerAddress,
  });
  const tracked = new Map<string, Tracked>();

  const arm = (entry: Tracked) => {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => entry.socket.destroy(), limits.connectionIdleMs);
    entry.timer.unref();
  };
  const busy = (key: string, until: { once(event: "close", listener: () => void): unknown }) => {
    const entry = tracked.get(key);
    if (!entry) return;
    entry.active++;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    until.once("close", () => {
      entry.active--;
      if (entry.active === 0 && !entry.socket.destroyed) arm(entry);
    });
  };

  // Raw TCP, before TLS: the cheapest moment to say no.
  h2.prependListener("connection", (socket: Socket) => {
    const group = addressGroup(socket.remoteAddress);
    if (!budget.tryTake(group)) {
      audit.refuse(
        "connection-limit",
        { client: group, why: "connections", connections: budget.total },
        "connection",
      );
      socket.destroy();
      return;
    }
    const key = keyOf(socket);
    const entry: Tracked = { socket, active: 0, timer: undefined };
    tracked.set(key, entry);
    arm(entry);
    socket.once("close", () => {
      clearTimeout(entry.timer);
      tracked.delete(key);
      budget.release(group);
    });
  });
  h2.on("stream", (stream: ServerHttp2Stream) => {
    const socket = stream.session?.socket;
    if (socket) busy(keyOf(socket), stream);
  });
  // HTTP/1.1 requests (done when the response closes) and WebSocket upgrades (a WebTransport
  // session over WebSocket: busy until the socket closes).
  h2.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor === 1) busy(keyOf(req.socket), res);
  });
  h2.on("upgrade", (req: IncomingMessage) => busy(keyOf(req.socket), req.socket));
}
