/**
 * The one module that acts on what the others ask for. The timers (peer-timers.ts) and the
 * transport (transport.ts) never start a handshake or send a keepalive themselves: they return
 * what should happen next, and this module does it at once, in the order it was asked for (as
 * quinn-proto's `Connection` acts on its timer table). So the imports go one way: this module
 * over handshake.ts and transport.ts, both over peer-timers.ts.
 */
import type { Context } from "./context.js";
import type { UdpEndpoint } from "./device-types.js";
import { initiate, onResponse } from "./handshake.js";
import { receivedWith } from "./keypair-slots.js";
import type { Response, TransportData } from "./messages.js";
import type { Peer } from "./peer.js";
import { expire, handshakeComplete, keepaliveSent } from "./peer-timers.js";
import * as transport from "./transport.js";

/** Starts the handshake sending or receiving asked for, if it asked for one. */
function rekey(ctx: Context, peer: Peer, reason: transport.Rekey): void {
  if (reason !== undefined) initiate(ctx, peer, false, reason);
}

/** Runs every timer of `peer` due at `ctx.now`, in table order. */
export function runTimers(ctx: Context, peer: Peer): void {
  // Each expiry may arm others; bounded because an expired timer is cleared before it runs.
  for (let guard = 0; guard < 16; guard++) {
    const due = peer.timers.due(ctx.now);
    if (!due) return;
    ctx.clearTimer(peer, due);
    const action = expire(ctx, peer, due);
    if (action?.kind === "initiate") initiate(ctx, peer, action.isRetry, action.reason);
    else if (action?.kind === "keepalive") {
      sendKeepalive(ctx, peer);
      if (due === "keepalive") keepaliveSent(ctx, peer);
    }
  }
}

/** Transport data arrived: open it, confirm its keypair, then deliver it. */
export function onTransportData(ctx: Context, m: TransportData, from: UdpEndpoint): void {
  const opened = transport.openTransportData(ctx, m);
  if (!opened) return;
  const { peer } = opened;
  if (receivedWith(ctx, peer, opened.keypair)) {
    handshakeComplete(ctx, peer);
    rekey(ctx, peer, transport.sendStaged(ctx, peer));
  }
  rekey(ctx, peer, transport.keepFreshReceiving(ctx, peer));
  transport.deliverTransportData(ctx, opened, m, from);
}

/** A response completed our handshake: a keepalive confirms it (and flushes what was staged). */
export function onResponseMessage(ctx: Context, m: Response, from: UdpEndpoint): void {
  const peer = onResponse(ctx, m, from);
  if (peer) sendKeepalive(ctx, peer);
}

export function sendPacket(ctx: Context, peer: Peer, packet: Uint8Array): void {
  rekey(ctx, peer, transport.sendPacket(ctx, peer, packet));
}

export function sendStaged(ctx: Context, peer: Peer): void {
  rekey(ctx, peer, transport.sendStaged(ctx, peer));
}

export function sendKeepalive(ctx: Context, peer: Peer): void {
  rekey(ctx, peer, transport.sendKeepalive(ctx, peer));
}
