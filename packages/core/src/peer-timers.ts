/**
 * What each timer does when it fires, and the events that arm and disarm them (wireguard-go's
 * timers.go: each expiry a small named function, armed through a handful of named hooks). An
 * expiry that needs a handshake or a keepalive says so in its result instead of sending it:
 * peer-actions.ts acts on it, as quinn-proto's connection acts on its timer table.
 */
import {
  KEEPALIVE_TIMEOUT,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME,
  REKEY_TIMEOUT,
} from "./constants.js";
import type { Context } from "./context.js";
import { dropPendings, zeroAll } from "./keypair-slots.js";
import type { Peer } from "./peer.js";
import type { TimerName } from "./timers.js";

/** What should happen next because a timer fired. */
export type TimerAction =
  | { kind: "initiate"; isRetry: boolean; reason: string }
  /** A keepalive; after it, `keepaliveSent` re-arms the keepalive timer if another is owed. */
  | { kind: "keepalive" }
  | undefined;

/** What `timer`'s expiry does to the peer itself; the handshake or keepalive it asks for. */
export function expire(ctx: Context, peer: Peer, timer: TimerName): TimerAction {
  if (timer === "retransmit") return expiredRetransmit(ctx, peer);
  if (timer === "keepalive") return { kind: "keepalive" };
  if (timer === "newHandshake") {
    return { kind: "initiate", isRetry: false, reason: "no reply to data for 15 s" };
  }
  if (timer === "zeroKeys") return expiredZeroKeys(ctx, peer);
  return peer.persistentKeepalive > 0 ? { kind: "keepalive" } : undefined;
}

function expiredRetransmit(ctx: Context, peer: Peer): TimerAction {
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
    return undefined;
  }
  peer.handshakeAttempts++;
  return { kind: "initiate", isRetry: true, reason: "retransmit" };
}

/** The keepalive timer's keepalive went out: arm it again if data arrived meanwhile. */
export function keepaliveSent(ctx: Context, peer: Peer): void {
  if (peer.needAnotherKeepalive) {
    peer.needAnotherKeepalive = false;
    ctx.setTimer(peer, "keepalive", KEEPALIVE_TIMEOUT);
  }
}

function expiredZeroKeys(ctx: Context, peer: Peer): undefined {
  zeroAll(ctx, peer, "no new keypair for 3 × REJECT_AFTER_TIME");
  ctx.event(peer, "keys-zeroed", "info", {
    reason: "no new keypair for 3 × REJECT_AFTER_TIME",
  });
  return undefined;
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
