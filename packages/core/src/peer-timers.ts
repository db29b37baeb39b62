/**
 * What each timer does when it fires, and the events that arm and disarm them (wireguard-go's
 * timers.go: each expiry a small named function, armed through a handful of named hooks).
 */
import {
  KEEPALIVE_TIMEOUT,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME,
  REKEY_TIMEOUT,
} from "./constants.js";
import type { Context } from "./context.js";
import { initiate } from "./handshake.js";
import { dropPendings, zeroAll } from "./keypair-slots.js";
import type { Peer } from "./peer.js";
import { sendKeepalive } from "./transport.js";

/** Runs every timer of `peer` due at `ctx.now`, in table order. */
export function runTimers(ctx: Context, peer: Peer): void {
  // Each expiry may arm others; bounded because an expired timer is cleared before it runs.
  for (let guard = 0; guard < 16; guard++) {
    const due = peer.timers.due(ctx.now);
    if (!due) return;
    ctx.clearTimer(peer, due);
    if (due === "retransmit") expiredRetransmit(ctx, peer);
    else if (due === "keepalive") expiredKeepalive(ctx, peer);
    else if (due === "newHandshake") initiate(ctx, peer, false, "no reply to data for 15 s");
    else if (due === "zeroKeys") expiredZeroKeys(ctx, peer);
    else if (peer.persistentKeepalive > 0) sendKeepalive(ctx, peer);
  }
}

function expiredRetransmit(ctx: Context, peer: Peer): void {
  // As wireguard-go and the kernel: retry while attempts <= MAX_TIMER_HANDSHAKES, i.e. the first
  // initiation plus MAX_TIMER_HANDSHAKES + 1 retries, then give up on the next expiry.
  if (peer.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
    ctx.event(peer, "handshake-gave-up", "warn", {
      reason: `no response after ${MAX_TIMER_HANDSHAKES + 2} attempts`,
    });
    ctx.clearTimer(peer, "keepalive");
    peer.staged = [];
    dropPendings(ctx, peer, "gave up");
    if (!peer.timers.isSet("zeroKeys")) ctx.setTimer(peer, "zeroKeys", REJECT_AFTER_TIME * 3);
    return;
  }
  peer.handshakeAttempts++;
  initiate(ctx, peer, true, "retransmit");
}

function expiredKeepalive(ctx: Context, peer: Peer): void {
  sendKeepalive(ctx, peer);
  if (peer.needAnotherKeepalive) {
    peer.needAnotherKeepalive = false;
    ctx.setTimer(peer, "keepalive", KEEPALIVE_TIMEOUT);
  }
}

function expiredZeroKeys(ctx: Context, peer: Peer): void {
  zeroAll(ctx, peer, "no new keypair for 3 × REJECT_AFTER_TIME");
  ctx.event(peer, "keys-zeroed", "info", {
    reason: "no new keypair for 3 × REJECT_AFTER_TIME",
  });
}

export function handshakeComplete(ctx: Context, peer: Peer): void {
  ctx.clearTimer(peer, "retransmit");
  peer.handshakeAttempts = 0;
  peer.sentLastMinuteHandshake = false;
  peer.lastHandshakeAt = ctx.now;
}

export function dataSent(ctx: Context, peer: Peer): void {
  if (!peer.timers.isSet("newHandshake")) {
    ctx.setTimer(peer, "newHandshake", KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + ctx.s.entropy.jitter());
  }
}

export function dataReceived(ctx: Context, peer: Peer): void {
  if (!peer.timers.isSet("keepalive")) ctx.setTimer(peer, "keepalive", KEEPALIVE_TIMEOUT);
  else peer.needAnotherKeepalive = true;
}

export function authenticatedSent(ctx: Context, peer: Peer): void {
  ctx.clearTimer(peer, "keepalive");
}

export function authenticatedReceived(ctx: Context, peer: Peer): void {
  ctx.clearTimer(peer, "newHandshake");
}

export function authenticatedTraversal(ctx: Context, peer: Peer): void {
  if (peer.persistentKeepalive > 0) {
    ctx.setTimer(peer, "persistentKeepalive", peer.persistentKeepalive);
  }
}
