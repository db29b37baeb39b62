/**
 * Transport data: sealing staged packets on the current keypair, opening what arrives. It never
 * starts a handshake itself: where one is needed (no usable keypair, a keypair aged) its result
 * names the reason, and peer-actions.ts starts it at once, before anything else happens.
 */
import {
  MAX_STAGED_PACKETS,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_ON_RECEIVE_AGE,
} from "./constants.js";
import type { Context } from "./context.js";
import type { UdpEndpoint } from "./device-types.js";
import { ipFamilyOf, ipPacketLength, sourceOffset } from "./ip.js";
import type { Keypair } from "./keypair.js";
import { usable } from "./keypair-slots.js";
import {
  AEAD_TAG_SIZE,
  encodeTransportData,
  TRANSPORT_HEADER_SIZE,
  type TransportData,
  writeTransportHeader,
} from "./messages.js";
import type { Peer } from "./peer.js";
import {
  authenticatedReceived,
  authenticatedSent,
  authenticatedTraversal,
  dataReceived,
  dataSent,
} from "./peer-timers.js";
import { roam } from "./roam.js";

const EMPTY = new Uint8Array(0);

/** Why a handshake should start now, or undefined: what sending or receiving asks for. */
export type Rekey = string | undefined;

/** Transport data that authenticated and passed the replay check, not yet acted on. */
export interface Opened {
  peer: Peer;
  keypair: Keypair;
  plaintext: Uint8Array;
  /** The highest counter accepted on the keypair before this one (-1 for none). */
  highest: number;
}

/** Opens transport data: its keypair, its age, the replay window and the AEAD; else rejected. */
export function openTransportData(ctx: Context, m: TransportData): Opened | undefined {
  const entry = ctx.indices.get(m.receiver);
  const k = entry?.keypair;
  if (!entry || !k) {
    ctx.reject(entry?.peer, "unknown-index", "transport data for no keypair", {
      localIndex: m.receiver,
    });
    return undefined;
  }
  const peer = entry.peer;
  if (ctx.now - k.createdAt >= REJECT_AFTER_TIME) {
    ctx.reject(peer, "keypair-expired", "keypair older than REJECT_AFTER_TIME", {
      localIndex: m.receiver,
    });
    return undefined;
  }
  if (!k.antiReplay.check(m.counter)) {
    ctx.reject(peer, "replayed-counter", `counter ${m.counter} replayed or too old`, {
      localIndex: m.receiver,
    });
    return undefined;
  }
  const plaintext = ctx.s.c.open(k.receiveKey, m.counter, m.encrypted, EMPTY);
  if (!plaintext) {
    ctx.reject(peer, "decrypt", "transport data did not authenticate", {
      localIndex: m.receiver,
    });
    return undefined;
  }
  const highest = k.received ? k.antiReplay.newest : -1;
  if (!k.antiReplay.accept(m.counter)) {
    ctx.reject(peer, "replayed-counter", `counter ${m.counter} replayed`, {
      localIndex: m.receiver,
    });
    return undefined;
  }
  return { peer, keypair: k, plaintext, highest };
}

/** The rest of receiving opened data: timers, endpoint, counters, and the packet if it routes. */
export function deliverTransportData(
  ctx: Context,
  opened: Opened,
  m: TransportData,
  from: UdpEndpoint,
): void {
  const { peer, plaintext, highest } = opened;
  authenticatedTraversal(ctx, peer);
  authenticatedReceived(ctx, peer);
  roam(ctx, peer, from);
  peer.rxBytes += m.bytes.length;
  // Counters skipped past the highest so far are missing; a lower one accepted was one of them.
  const counter = Number(m.counter);
  peer.rxMissing += counter > highest ? counter - highest - 1 : -1;
  if (plaintext.length === 0) return; // keepalive
  dataReceived(ctx, peer);
  const length = ipPacketLength(plaintext);
  if (length < 0) {
    ctx.reject(peer, "invalid-inner-packet", "decrypted data is not an IP packet");
    return;
  }
  const family = ipFamilyOf(plaintext);
  if (ctx.routes.lookup(family, plaintext, sourceOffset(family)) !== peer) {
    ctx.reject(peer, "source-not-allowed", "inner source address not in the peer's allowed IPs");
    return;
  }
  // Bytes past the IP header's length are the sender's padding.
  ctx.deliver(peer, length === plaintext.length ? plaintext : plaintext.subarray(0, length));
}

/** Sends `packet` to `peer`: at once if nothing is queued and a keypair is up, else staged. */
export function sendPacket(ctx: Context, peer: Peer, packet: Uint8Array): Rekey {
  if (peer.staged.length === 0 && usable(ctx.now, peer.current)) {
    // Fast path: nothing queued ahead of it and a keypair is up, so seal the caller's bytes
    // directly instead of copying them into the queue first.
    sendTransport(ctx, peer, peer.current, packet);
    return keepFreshSending(ctx, peer);
  }
  stage(ctx, peer, packet);
  return sendStaged(ctx, peer);
}

export function stage(ctx: Context, peer: Peer, packet: Uint8Array): void {
  if (peer.staged.length >= MAX_STAGED_PACKETS) {
    peer.staged.shift();
    ctx.reject(peer, "staged-overflow", "staged queue full: dropped the oldest packet");
  }
  peer.staged.push(packet.slice());
}

/** Encrypts every staged packet on the current keypair, or asks for a handshake if there is none. */
export function sendStaged(ctx: Context, peer: Peer): Rekey {
  if (peer.staged.length === 0) return undefined;
  const k = peer.current;
  if (!usable(ctx.now, k)) return "data waiting for a session";
  const staged = peer.staged;
  peer.staged = [];
  for (const packet of staged) sendTransport(ctx, peer, k, packet);
  return keepFreshSending(ctx, peer);
}

function sendTransport(ctx: Context, peer: Peer, k: Keypair, packet: Uint8Array): void {
  const counter = k.sendCounter++;
  if (!ctx.transmit(peer, sealTransportData(ctx, k, counter, packet))) return;
  if (packet.length === 0) {
    ctx.event(peer, "keepalive-sent", "debug", { localIndex: k.localIndex });
  }
  authenticatedTraversal(ctx, peer);
  authenticatedSent(ctx, peer);
  if (packet.length > 0) dataSent(ctx, peer);
}

/**
 * The transport data message carrying `packet`, padded. With a backend that seals into a buffer,
 * the message is one allocation: header, then the packet sealed behind it (in place when padded:
 * the padding is the new buffer's zeros). Otherwise sealed, then copied behind the header.
 */
function sealTransportData(ctx: Context, k: Keypair, counter: bigint, packet: Uint8Array) {
  const c = ctx.s.c;
  const length = paddedLength(packet.length, ctx.s.mtu);
  if (!c.sealInto) {
    const padded = length === packet.length ? packet : new Uint8Array(length);
    if (padded !== packet) padded.set(packet);
    return encodeTransportData(k.remoteIndex, counter, c.seal(k.sendKey, counter, padded, EMPTY));
  }
  const message = new Uint8Array(TRANSPORT_HEADER_SIZE + length + AEAD_TAG_SIZE);
  writeTransportHeader(message, k.remoteIndex, counter);
  let plaintext = packet;
  if (length !== packet.length) {
    message.set(packet, TRANSPORT_HEADER_SIZE);
    plaintext = message.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + length);
  }
  c.sealInto(k.sendKey, counter, plaintext, EMPTY, message, TRANSPORT_HEADER_SIZE);
  return message;
}

/** Length with zero padding to a multiple of 16 bytes, but not beyond the MTU. */
function paddedLength(length: number, mtu: number): number {
  const rest = length % 16;
  if (rest === 0) return length;
  return Math.min(length + 16 - rest, Math.max(mtu, length));
}

/** wireguard-go's SendKeepalive: a keepalive if nothing is staged, then flush (or handshake). */
export function sendKeepalive(ctx: Context, peer: Peer): Rekey {
  if (peer.staged.length === 0) peer.staged.push(EMPTY);
  return sendStaged(ctx, peer);
}

function keepFreshSending(ctx: Context, peer: Peer): Rekey {
  const k = peer.current;
  if (!k) return undefined;
  if (
    k.sendCounter > REKEY_AFTER_MESSAGES ||
    (k.isInitiator && ctx.now - k.createdAt > REKEY_AFTER_TIME)
  ) {
    return "rekey: keypair aged";
  }
  return undefined;
}

/** The initiator's keypair is near its end while data still arrives: one last-minute rekey. */
export function keepFreshReceiving(ctx: Context, peer: Peer): Rekey {
  if (peer.sentLastMinuteHandshake) return undefined;
  const k = peer.current;
  if (k?.isInitiator && ctx.now - k.createdAt > REKEY_ON_RECEIVE_AGE) {
    peer.sentLastMinuteHandshake = true;
    return "rekey: keypair near expiry on receive";
  }
  return undefined;
}
