/**
 * The WireGuard device, sans-IO: datagrams, plaintext packets and time go in; datagrams to send,
 * packets delivered, trace events and the next deadline come out. No clock, socket, timer or global
 * randomness is touched here, so the same inputs always give the same outputs.
 *
 * This file is the API and the dispatch: each message type and each packet goes to the module
 * that handles it (handshake.ts, transport.ts; timers in peer-timers.ts; peer-actions.ts acts on
 * what the timers and the transport ask for), routed by allowed IPs.
 * docs/architecture.md has the map.
 */
import { HandshakeGate } from "./admission.js";
import { DEFAULT_MTU, DEFAULT_UNDER_LOAD_THRESHOLD } from "./constants.js";
import { Context } from "./context.js";
import { CookieChecker } from "./cookie.js";
import { nobleCrypto } from "./crypto/noble.js";
import type {
  DeviceOptions,
  DeviceRejection,
  DeviceStats,
  Output,
  PeerOptions,
  PeerStatus,
  UdpEndpoint,
} from "./device-types.js";
import { entropyFrom } from "./entropy.js";
import { initiate, onCookieReply, onInitiation } from "./handshake.js";
import { destinationOffset, ipFamilyOf, ipPacketLength, parseCidr } from "./ip.js";
import { zeroAll } from "./keypair-slots.js";
import { keyToBase64 } from "./keys.js";
import { checkShape, decodeMessage, decodeTransportData } from "./messages.js";
import { frozenEndpoint, Peer } from "./peer.js";
import {
  onResponseMessage,
  onTransportData,
  runTimers,
  sendKeepalive,
  sendPacket,
  sendStaged,
} from "./peer-actions.js";
import { stage } from "./transport.js";
import { abytes, afunction, anumber } from "./validate.js";

export type {
  DeliveredPacket,
  DeviceOptions,
  DeviceRejection,
  DeviceStats,
  OutgoingDatagram,
  Output,
  PeerOptions,
  PeerStatus,
  UdpEndpoint,
} from "./device-types.js";

export class Device {
  readonly publicKey: Uint8Array;
  readonly publicKeyBase64: string;
  /** Counts of everything rejected, by reason. */
  readonly rejections: Map<DeviceRejection, number>;
  readonly #ctx: Context;

  constructor(options: DeviceOptions) {
    const c = options.crypto ?? nobleCrypto;
    const privateKey = abytes(options.privateKey, 32, "privateKey").slice();
    const entropy = options.entropy ?? entropyFrom(afunction(options.random, "random"));
    const wallClock = afunction(options.wallClock, "wallClock (ns since the epoch)");
    const publicKey = c.x25519Public(privateKey);
    this.publicKey = publicKey;
    this.publicKeyBase64 = keyToBase64(publicKey);
    this.#ctx = new Context({
      c,
      privateKey,
      publicKey,
      entropy,
      wallClock,
      keyLog: options.keyLog ?? false,
      mtu: options.mtu ?? DEFAULT_MTU,
      keepBoth: (options.collisionPolicy ?? "keep-both") === "keep-both",
      admitPeer: options.admitPeer,
      gate: new HandshakeGate(
        new CookieChecker(c, publicKey),
        options.underLoadThreshold ?? DEFAULT_UNDER_LOAD_THRESHOLD,
        options.rateLimitBy,
      ),
    });
    this.rejections = this.#ctx.rejections;
  }

  /** Adds a peer (or replaces one with the same key). */
  addPeer(now: number, options: PeerOptions): Output {
    this.#begin(now);
    this.#addPeer(options, "configured");
    return this.#ctx.finish();
  }

  removePeer(now: number, publicKey: Uint8Array): Output {
    this.#begin(now);
    const peer = this.#peer(publicKey);
    if (peer) this.#removePeer(peer, "removed");
    return this.#ctx.finish();
  }

  /** A datagram arrived from `from`. Never throws on its contents. */
  receive(now: number, datagram: Uint8Array, from: UdpEndpoint): Output {
    this.#begin(now);
    abytes(datagram, undefined, "datagram");
    const ctx = this.#ctx;
    // Transport data, nearly every datagram, is decoded without the result wrapper.
    const decoded = checkShape(datagram) === 4 ? undefined : decodeMessage(datagram);
    if (decoded === undefined) onTransportData(ctx, decodeTransportData(datagram), from);
    else if (!decoded.ok) {
      ctx.reject(undefined, decoded.reason, decoded.detail);
    } else {
      const m = decoded.message;
      if (m.type === 1) onInitiation(ctx, m, from, (o) => this.#addPeer(o, "admitted"));
      else if (m.type === 2) onResponseMessage(ctx, m, from);
      else if (m.type === 3) onCookieReply(ctx, m);
      else onTransportData(ctx, m, from);
    }
    return ctx.finish();
  }

  /** A plaintext IP packet to send; routed to a peer by its destination address. */
  send(now: number, packet: Uint8Array): Output {
    this.#begin(now);
    abytes(packet, undefined, "packet");
    const ctx = this.#ctx;
    const length = ipPacketLength(packet);
    if (length < 0) {
      ctx.reject(undefined, "invalid-inner-packet", "not an IPv4/IPv6 packet");
      return ctx.finish();
    }
    const family = ipFamilyOf(packet);
    const peer = ctx.routes.lookup(family, packet, destinationOffset(family));
    if (!peer) ctx.reject(undefined, "no-route", "no peer's allowed IPs contain the destination");
    else sendPacket(ctx, peer, length === packet.length ? packet : packet.subarray(0, length));
    return ctx.finish();
  }

  /**
   * A plaintext packet for one peer, bypassing allowed-IPs routing (a server answering whoever
   * asked). The peer still checks the source address against its own allowed IPs.
   */
  sendToPeer(now: number, publicKey: Uint8Array, packet: Uint8Array): Output {
    this.#begin(now);
    abytes(packet, undefined, "packet");
    const peer = this.#known(publicKey, "sendToPeer");
    stage(this.#ctx, peer, packet);
    sendStaged(this.#ctx, peer);
    return this.#ctx.finish();
  }

  /** Runs every timer due at `now`. */
  tick(now: number): Output {
    this.#begin(now);
    const ctx = this.#ctx;
    // Peers due together run in the order they were added, as they always have.
    const due = ctx.timers.due(ctx.now).sort((x, y) => x.order - y.order);
    for (const peer of due) runTimers(ctx, peer);
    return ctx.finish();
  }

  /** Starts a handshake with a peer now (subject to the REKEY_TIMEOUT rate limit). */
  initiateHandshake(now: number, publicKey: Uint8Array): Output {
    this.#begin(now);
    initiate(this.#ctx, this.#known(publicKey, "initiateHandshake"), false, "requested");
    return this.#ctx.finish();
  }

  /** Sets or clears a peer's endpoint (e.g. once a relay session exists). */
  setEndpoint(publicKey: Uint8Array, endpoint: UdpEndpoint | undefined): void {
    this.#known(publicKey, "setEndpoint").endpoint = endpoint
      ? frozenEndpoint(endpoint)
      : undefined;
  }

  peerStatus(publicKey: Uint8Array): PeerStatus | undefined {
    const peer = this.#peer(publicKey);
    if (!peer) return undefined;
    const slots = (["previous", "current", "next"] as const).flatMap((slot) => {
      const k = peer[slot];
      return k ? [{ slot, createdAt: k.createdAt, isInitiator: k.isInitiator }] : [];
    });
    return {
      publicKey: peer.id,
      endpoint: peer.endpoint ? { ...peer.endpoint } : undefined,
      handshake: peer.current
        ? "established"
        : peer.pendings.length > 0
          ? "initiation-sent"
          : "none",
      lastHandshakeAt: peer.lastHandshakeAt,
      txBytes: peer.txBytes,
      rxBytes: peer.rxBytes,
      rxMissing: peer.rxMissing,
      keypairs: slots,
      stagedPackets: peer.staged.length,
    };
  }

  /** Local index of the keypair each side sends on — equal indices mean the same handshake. */
  currentKeypair(publicKey: Uint8Array): { localIndex: number; remoteIndex: number } | undefined {
    const k = this.#peer(publicKey)?.current;
    return k ? { localIndex: k.localIndex, remoteIndex: k.remoteIndex } : undefined;
  }

  get peerCount(): number {
    return this.#ctx.peers.size;
  }

  /** Sizes of the internal tables, to check that hostile traffic cannot make them grow. */
  get stats(): DeviceStats {
    let stagedPackets = 0;
    let pendingInitiations = 0;
    for (const peer of this.#ctx.peers.values()) {
      stagedPackets += peer.staged.length;
      pendingInitiations += peer.pendings.length;
    }
    return {
      peers: this.#ctx.peers.size,
      indices: this.#ctx.indices.size,
      rateLimiterBuckets: this.#ctx.s.gate.buckets,
      stagedPackets,
      pendingInitiations,
    };
  }

  #begin(now: number): void {
    this.#ctx.begin(anumber(now, "now (ms)"));
  }

  #peer(publicKey: Uint8Array): Peer | undefined {
    return this.#ctx.peers.get(keyToBase64(abytes(publicKey, 32, "publicKey")));
  }

  #known(publicKey: Uint8Array, caller: string): Peer {
    const peer = this.#peer(publicKey);
    if (!peer) throw new RangeError(`${caller}: unknown peer`);
    return peer;
  }

  #addPeer(options: PeerOptions, reason: string): Peer {
    const ctx = this.#ctx;
    const publicKey = abytes(options.publicKey, 32, "publicKey").slice();
    if (options.presharedKey !== undefined) abytes(options.presharedKey, 32, "presharedKey");
    const id = keyToBase64(publicKey);
    const prefixes = (options.allowedIps ?? []).map((entry) => {
      if (typeof entry !== "string") return entry;
      const parsed = parseCidr(entry);
      if (!parsed.ok) throw new TypeError(`allowedIps: ${parsed.error}`);
      return parsed.prefix;
    });
    const existing = ctx.peers.get(id);
    if (existing) this.#removePeer(existing, "replaced");
    const peer = new Peer(publicKey, ctx.s.c, ctx.s.privateKey, options, ++ctx.peerOrder);
    ctx.peers.set(id, peer);
    for (const prefix of prefixes) ctx.routes.insert(prefix, peer);
    ctx.event(peer, "peer-added", "info", { reason });
    if (ctx.s.keyLog) {
      if (ctx.peers.size === 1) ctx.log("LOCAL_STATIC_PRIVATE_KEY", ctx.s.privateKey);
      ctx.log("REMOTE_STATIC_PUBLIC_KEY", publicKey);
    }
    if (peer.persistentKeepalive > 0) sendKeepalive(ctx, peer);
    return peer;
  }

  #removePeer(peer: Peer, reason: string): void {
    const ctx = this.#ctx;
    zeroAll(ctx, peer, `peer ${reason}`);
    ctx.dropTimers(peer);
    ctx.routes.removeByValue(peer);
    ctx.peers.delete(peer.id);
    ctx.indices.deletePeer(peer);
    ctx.event(peer, "peer-removed", "info", { reason });
  }
}
