/**
 * The Noise IK handshake of one peer: sending initiations (and retransmitting them), answering
 * the peer's, and completing ours. Every change of the peer's handshake state goes through
 * `ctx.setHandshake` (handshake-state.ts); the messages pass the gate in admission.ts first.
 * A completed handshake is confirmed by a keepalive that peer-actions.ts sends.
 */
import { INITIATION_FLOOD_INTERVAL, REJECT_AFTER_TIME, REKEY_TIMEOUT } from "./constants.js";
import type { Context } from "./context.js";
import type { PeerOptions, UdpEndpoint } from "./device-types.js";
import { handshakeOf } from "./handshake-state.js";
import type { IndexEntry } from "./index-table.js";
import { Keypair, type Rank } from "./keypair.js";
import { dropPendings, place } from "./keypair-slots.js";
import { keyToBase64 } from "./keys.js";
import {
  type CookieReply,
  encodeInitiation,
  encodeResponse,
  type Initiation,
  type Response,
} from "./messages.js";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  splitKeys,
  staticStatic,
} from "./noise.js";
import type { Peer } from "./peer.js";
import {
  authenticatedReceived,
  authenticatedSent,
  authenticatedTraversal,
  handshakeComplete,
} from "./peer-timers.js";
import { roam } from "./roam.js";
import { compareTai64n, tai64n } from "./tai64n.js";

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** False (after rejecting or answering with a cookie) when the gate drops the message. */
function admitted(ctx: Context, bytes: Uint8Array, sender: number, from: UdpEndpoint): boolean {
  const verdict = ctx.s.gate.admit(ctx.now, ctx.s.entropy, bytes, sender, from);
  if (verdict.ok) return true;
  if (verdict.reason === "cookie-required") {
    ctx.datagram({ ...from }, verdict.cookieReply);
  }
  ctx.reject(undefined, verdict.reason, verdict.detail);
  if (verdict.reason === "cookie-required") {
    ctx.event(undefined, "cookie-sent", "debug", { remoteIndex: sender });
  }
  return false;
}

/** Sends an initiation unless one went out less than REKEY_TIMEOUT ago. */
export function initiate(ctx: Context, peer: Peer, isRetry: boolean, reason: string): void {
  if (!isRetry) peer.handshakeAttempts = 0;
  const sinceInitiation = ctx.now - peer.lastInitiationSentAt;
  const sinceResponse = ctx.now - peer.lastResponseSentAt;
  if (sinceInitiation < REKEY_TIMEOUT || (!isRetry && sinceResponse < REKEY_TIMEOUT)) {
    ctx.event(peer, "initiation-suppressed", "debug", {
      reason: `${reason}: a handshake message went out less than REKEY_TIMEOUT ago`,
    });
    return;
  }
  if (!peer.endpoint) {
    ctx.reject(peer, "no-endpoint", `${reason}: cannot initiate without an endpoint`);
    return;
  }
  if (!peer.staticStatic) {
    ctx.reject(peer, "low-order-key", "peer's public key is low order");
    return;
  }
  const ephemeralPrivate = ctx.ephemeral(peer);
  const init = createInitiation(ctx.s.c, {
    localStaticPublic: ctx.s.publicKey,
    staticStatic: peer.staticStatic,
    remoteStaticPublic: peer.publicKey,
    ephemeralPrivate,
    payload: tai64n(ctx.s.wallClock()),
  });
  if (!init) {
    ctx.reject(peer, "low-order-key", "peer's public key is low order");
    return;
  }
  const [previous, ...stale] = peer.pendings;
  // Keep only the newest earlier initiation alongside the new one.
  for (const p of stale) {
    ctx.indices.delete(p.localIndex);
    p.ephemeralPrivate.fill(0);
  }
  const localIndex = ctx.indices.allocate(ctx.s.entropy, { peer, keypair: null });
  const bytes = encodeInitiation({
    sender: localIndex,
    ephemeral: init.ephemeralPublic,
    encryptedStatic: init.encryptedStatic,
    encryptedTimestamp: init.encryptedPayload,
  });
  peer.cookies.addMacs(ctx.now, bytes);
  // A retransmission continues the same attempt: it keeps the round, so a late response to the
  // earlier initiation ranks exactly as the peer ranks it.
  const round = previous ? previous.round : ++peer.round;
  const pending = { localIndex, ephemeralPrivate, state: init.state, round };
  ctx.setHandshake(
    peer,
    handshakeOf(previous ? [pending, previous] : [pending], peer.next),
    isRetry ? "retransmit" : reason,
  );
  peer.lastInitiationSentAt = ctx.now;
  ctx.transmit(peer, bytes);
  ctx.event(peer, "initiation-sent", isRetry ? "info" : "debug", {
    role: "initiator",
    localIndex,
    reason: isRetry ? `${reason} (attempt ${peer.handshakeAttempts + 1})` : reason,
  });
  authenticatedTraversal(ctx, peer);
  authenticatedSent(ctx, peer);
  ctx.setTimer(peer, "retransmit", REKEY_TIMEOUT + ctx.s.entropy.jitter());
}

/** The peer an authenticated initiation is from, or undefined (rejected). */
function consume(ctx: Context, m: Initiation, addPeer: (options: PeerOptions) => Peer) {
  let peer: Peer | undefined;
  let stranger: Uint8Array | undefined;
  const consumed = consumeInitiation(ctx.s.c, {
    localStaticPrivate: ctx.s.privateKey,
    localStaticPublic: ctx.s.publicKey,
    ephemeralPublic: m.ephemeral,
    encryptedStatic: m.encryptedStatic,
    encryptedPayload: m.encryptedTimestamp,
    staticStaticFor: (remote) => {
      peer = ctx.peers.get(keyToBase64(remote));
      if (peer || !ctx.s.admitPeer) return peer?.staticStatic ?? null;
      // Admission happens only after the whole initiation authenticated (below).
      stranger = remote.slice();
      return staticStatic(ctx.s.c, ctx.s.privateKey, remote);
    },
  });
  if (consumed && !peer && stranger) {
    const admitted = ctx.s.admitPeer?.(stranger);
    if (admitted) peer = addPeer({ ...admitted, publicKey: stranger });
  }
  if (!consumed || !peer) {
    const why = peer ? "initiation did not decrypt" : "initiation from an unknown key";
    ctx.reject(peer, peer ? "decrypt" : "unknown-peer", why, { remoteIndex: m.sender });
    return undefined;
  }
  return { peer, consumed };
}

export function onInitiation(
  ctx: Context,
  m: Initiation,
  from: UdpEndpoint,
  addPeer: (options: PeerOptions) => Peer,
): void {
  if (!admitted(ctx, m.bytes, m.sender, from)) return;
  const found = consume(ctx, m, addPeer);
  if (!found) return;
  const { peer, consumed } = found;
  if (peer.latestTimestamp && compareTai64n(consumed.payload, peer.latestTimestamp) <= 0) {
    ctx.reject(peer, "replayed-timestamp", "timestamp not newer than the last one", {
      remoteIndex: m.sender,
    });
    return;
  }
  if (ctx.now - peer.lastInitiationConsumedAt < INITIATION_FLOOD_INTERVAL) {
    ctx.reject(
      peer,
      "initiation-flood",
      `more than one initiation in ${INITIATION_FLOOD_INTERVAL} ms`,
      { remoteIndex: m.sender },
    );
    return;
  }
  peer.latestTimestamp = consumed.payload.slice();
  peer.lastInitiationConsumedAt = ctx.now;
  roam(ctx, peer, from);
  authenticatedTraversal(ctx, peer);
  authenticatedReceived(ctx, peer);

  // A crossing initiation is not an error: answer it and keep our own pending one alive, so
  // both handshakes complete; ranks then pick the same winner on both sides.
  const theyWin = compareKeys(peer.publicKey, ctx.s.publicKey) > 0;
  const current = peer.current;
  if (!ctx.s.keepBoth) dropPendings(ctx, peer, "latest-wins: their initiation replaces ours");
  const pending = peer.pendings[0];
  let round: number;
  if (pending) {
    round = pending.round;
    ctx.event(peer, "collision", "info", {
      role: "responder",
      localIndex: pending.localIndex,
      remoteIndex: m.sender,
      reason: `initiations crossed; keeping ours alive and answering theirs; ${theyWin ? "their" : "our"} handshake wins (greater static key)`,
    });
  } else if (
    ctx.s.keepBoth &&
    current?.isInitiator &&
    !current.received &&
    ctx.now - current.createdAt < REKEY_TIMEOUT
  ) {
    round = current.rank.round;
    ctx.event(peer, "collision", "info", {
      role: "responder",
      localIndex: current.localIndex,
      remoteIndex: m.sender,
      reason: `initiation crossed our just-completed handshake; ${theyWin ? "their" : "our"} handshake wins (greater static key)`,
    });
  } else {
    round = ++peer.round;
  }
  ctx.event(peer, "initiation-consumed", "debug", { role: "responder", remoteIndex: m.sender });

  const ephemeralPrivate = ctx.ephemeral(peer);
  const response = createResponse(ctx.s.c, {
    state: consumed.state,
    remoteEphemeral: consumed.remoteEphemeral,
    remoteStatic: consumed.remoteStatic,
    ephemeralPrivate,
    presharedKey: peer.presharedKey,
  });
  ephemeralPrivate.fill(0);
  if (!response) {
    ctx.reject(peer, "low-order-key", "initiator's ephemeral key is low order");
    return;
  }
  const entry: IndexEntry<Peer> = { peer, keypair: null };
  const localIndex = ctx.indices.allocate(ctx.s.entropy, entry);
  const bytes = encodeResponse({
    sender: localIndex,
    receiver: m.sender,
    ephemeral: response.ephemeralPublic,
    encryptedNothing: response.encryptedPayload,
  });
  peer.cookies.addMacs(ctx.now, bytes);
  const [initiatorToResponder, responderToInitiator] = splitKeys(ctx.s.c, response.state.chainKey);
  const rank: Rank = { round, winner: theyWin, sequence: ++ctx.sequence };
  const keypair = new Keypair(
    localIndex,
    m.sender,
    responderToInitiator,
    initiatorToResponder,
    false,
    ctx.now,
    rank,
  );
  entry.keypair = keypair;
  peer.lastResponseSentAt = ctx.now;
  place(ctx, peer, keypair);
  ctx.setTimer(peer, "zeroKeys", REJECT_AFTER_TIME * 3);
  ctx.transmit(peer, bytes);
  ctx.event(peer, "response-sent", "debug", {
    role: "responder",
    localIndex,
    remoteIndex: m.sender,
  });
  authenticatedTraversal(ctx, peer);
  authenticatedSent(ctx, peer);
}

/** Completes our handshake; the peer whose keypair is now up (a keepalive should confirm it). */
export function onResponse(ctx: Context, m: Response, from: UdpEndpoint): Peer | undefined {
  if (!admitted(ctx, m.bytes, m.sender, from)) return undefined;
  const entry = ctx.indices.get(m.receiver);
  const peer = entry?.peer;
  const pending = peer?.pendings.find((p) => p.localIndex === m.receiver);
  if (!entry || !peer || !pending) {
    ctx.reject(peer, "unknown-index", "response to no initiation in flight", {
      localIndex: m.receiver,
      remoteIndex: m.sender,
    });
    return undefined;
  }
  const done = consumeResponse(ctx.s.c, {
    state: pending.state,
    localEphemeralPrivate: pending.ephemeralPrivate,
    localStaticPrivate: ctx.s.privateKey,
    ephemeralPublic: m.ephemeral,
    encryptedPayload: m.encryptedNothing,
    presharedKey: peer.presharedKey,
  });
  if (!done) {
    ctx.reject(peer, "decrypt", "response did not authenticate", {
      localIndex: m.receiver,
      remoteIndex: m.sender,
    });
    return undefined;
  }
  // The attempt is complete: the earlier initiation it retransmitted is now stale, and left
  // pending it would make the peer's next initiation look like a crossing one (ranked into the
  // finished round, so the two sides would keep sending on different keypairs). The answered
  // initiation's index now names the keypair, so only the others are freed.
  pending.ephemeralPrivate.fill(0);
  const others = peer.pendings.filter((p) => p !== pending);
  ctx.setHandshake(peer, handshakeOf(others, peer.next), "response consumed");
  dropPendings(ctx, peer, "response consumed");
  roam(ctx, peer, from);
  authenticatedTraversal(ctx, peer);
  authenticatedReceived(ctx, peer);
  const [initiatorToResponder, responderToInitiator] = splitKeys(ctx.s.c, done.state.chainKey);
  const rank: Rank = {
    round: pending.round,
    winner: compareKeys(ctx.s.publicKey, peer.publicKey) > 0,
    sequence: ++ctx.sequence,
  };
  const keypair = new Keypair(
    m.receiver,
    m.sender,
    initiatorToResponder,
    responderToInitiator,
    true,
    ctx.now,
    rank,
  );
  entry.keypair = keypair;
  ctx.event(peer, "response-consumed", "info", {
    role: "initiator",
    localIndex: m.receiver,
    remoteIndex: m.sender,
  });
  place(ctx, peer, keypair);
  ctx.setTimer(peer, "zeroKeys", REJECT_AFTER_TIME * 3);
  handshakeComplete(ctx, peer);
  return peer;
}

export function onCookieReply(ctx: Context, m: CookieReply): void {
  const peer = ctx.indices.get(m.receiver)?.peer;
  if (!peer) {
    ctx.reject(undefined, "unknown-index", "cookie reply for no message of ours", {
      localIndex: m.receiver,
    });
    return;
  }
  if (!peer.cookies.consumeReply(ctx.now, m)) {
    ctx.reject(peer, "bad-cookie", "cookie reply did not decrypt", { localIndex: m.receiver });
    return;
  }
  ctx.event(peer, "cookie-received", "info", {
    localIndex: m.receiver,
    reason: "peer is under load; the next handshake message carries mac2",
  });
}
