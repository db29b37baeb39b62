/**
 * Where each keypair of a peer lives: `current` sends, `previous` only receives, and the responder
 * keypair awaiting confirmation is the handshake's `next` (handshake-state.ts). Keypairs are
 * placed by rank (keypair.ts), which is what makes crossing handshakes converge.
 */
import { REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME, REKEY_TIMEOUT } from "./constants.js";
import type { Context } from "./context.js";
import { handshakeOf } from "./handshake-state.js";
import { compareRank, type Keypair } from "./keypair.js";
import type { Peer } from "./peer.js";

/**
 * Puts a new keypair in its slot by rank. A usable (initiator) keypair becomes current if it
 * outranks the current one; an unconfirmed (responder) one waits in `next`. Outranked keypairs go
 * to `previous`: they can still receive, never send.
 */
export function place(ctx: Context, peer: Peer, k: Keypair): void {
  const current = peer.current;
  const next = peer.next;
  const outranks = !current || compareRank(k.rank, current.rank) > 0;
  const role = k.isInitiator ? "initiator" : "responder";
  let slot: "current" | "next" | "previous";
  if (outranks && k.confirmed) {
    retire(ctx, peer, peer.previous);
    if (next && compareRank(next.rank, k.rank) < 0) {
      // The outranked crossing handshake: its initiator may still send on it for a moment, so
      // it stays receivable (as wireguard-go keeps `next` as `previous` here).
      retire(ctx, peer, current);
      peer.previous = next;
      ctx.setHandshake(peer, handshakeOf(peer.pendings, null), "outranked by our own handshake");
    } else {
      peer.previous = current;
    }
    peer.current = k;
    slot = "current";
  } else if (outranks) {
    retire(ctx, peer, next);
    ctx.setHandshake(peer, handshakeOf(peer.pendings, k), "answered an initiation");
    slot = "next";
  } else {
    retire(ctx, peer, peer.previous);
    peer.previous = k;
    slot = "previous";
  }
  ctx.event(peer, "keypair-created", "debug", {
    role,
    localIndex: k.localIndex,
    remoteIndex: k.remoteIndex,
    to: slot,
    reason:
      slot === "previous"
        ? "outranked by the crossing handshake: kept only to receive"
        : slot === "next"
          ? "awaiting key confirmation"
          : undefined,
  });
}

/** Zeroes a keypair and frees its index. */
export function retire(ctx: Context, peer: Peer, k: Keypair | null): void {
  if (!k) return;
  ctx.indices.deleteKeypair(k);
  k.zero();
  ctx.event(peer, "keypair-retired", "debug", {
    localIndex: k.localIndex,
    remoteIndex: k.remoteIndex,
  });
}

/** Data arrived on `k`. True when that moved it to `current` (key confirmation). */
export function receivedWith(ctx: Context, peer: Peer, k: Keypair): boolean {
  k.received = true;
  if (k === peer.next) {
    k.confirmed = true;
    retire(ctx, peer, peer.previous);
    peer.previous = peer.current;
    peer.current = k;
    ctx.setHandshake(peer, handshakeOf(peer.pendings, null), "initiator's first data confirmed it");
    ctx.event(peer, "keypair-confirmed", "info", {
      role: "responder",
      localIndex: k.localIndex,
      remoteIndex: k.remoteIndex,
      from: "next",
      to: "current",
    });
    return true;
  }
  k.confirmed = true;
  const current = peer.current;
  // Fallback for a peer that lost our winning handshake (e.g. it restarted): if the current
  // keypair has never been heard from while a newer one carries data, switch to the newer one.
  if (
    k === peer.previous &&
    current &&
    !current.received &&
    ctx.now - current.createdAt >= REKEY_TIMEOUT &&
    k.rank.sequence > current.rank.sequence
  ) {
    peer.previous = current;
    peer.current = k;
    ctx.event(peer, "keypair-confirmed", "info", {
      localIndex: k.localIndex,
      remoteIndex: k.remoteIndex,
      from: "previous",
      to: "current",
      reason: "current keypair never heard from; using the one the peer sends on",
    });
    return true;
  }
  return false;
}

/** Whether we may send on `k` now. */
export function usable(now: number, k: Keypair | null): k is Keypair {
  return (
    !!k?.confirmed && now - k.createdAt < REJECT_AFTER_TIME && k.sendCounter < REJECT_AFTER_MESSAGES
  );
}

/** Forgets every keypair, initiation and staged packet of a peer. */
export function zeroAll(ctx: Context, peer: Peer, reason: string): void {
  retire(ctx, peer, peer.previous);
  peer.previous = null;
  retire(ctx, peer, peer.current);
  peer.current = null;
  retire(ctx, peer, peer.next);
  dropPendings(ctx, peer, reason, true);
  peer.staged = [];
}

/** Abandons our initiations in flight (and the keypair awaiting confirmation, if `andNext`). */
export function dropPendings(ctx: Context, peer: Peer, reason: string, andNext = false): void {
  for (const pending of peer.pendings) {
    ctx.indices.delete(pending.localIndex);
    pending.ephemeralPrivate.fill(0);
  }
  ctx.setHandshake(peer, handshakeOf([], andNext ? null : peer.next), reason);
}
