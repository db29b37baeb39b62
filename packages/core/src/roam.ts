/** Roaming: where a peer is, as its authenticated messages show. */
import type { Context } from "./context.js";
import type { UdpEndpoint } from "./device-types.js";
import { frozenEndpoint, type Peer } from "./peer.js";

/** The peer's endpoint follows the source of its latest authenticated message. */
export function roam(ctx: Context, peer: Peer, from: UdpEndpoint): void {
  const e = peer.endpoint;
  if (e !== undefined && e.address === from.address && e.port === from.port) return;
  const before = e ? `${e.address}:${e.port}` : "none";
  peer.endpoint = frozenEndpoint(from);
  ctx.event(peer, "endpoint-changed", "info", { from: before, to: `${from.address}:${from.port}` });
}
