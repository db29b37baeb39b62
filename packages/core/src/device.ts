/**
 * The WireGuard device, sans-IO: datagrams, plaintext packets and time go in; datagrams to send,
 * packets delivered, trace events and the next deadline come out. No clock, socket, timer or global
 * randomness is touched here, so the same inputs always give the same outputs.
 */
import { AllowedIps } from "./allowed-ips.js";
import {
  DEFAULT_MTU,
  DEFAULT_UNDER_LOAD_THRESHOLD,
  HANDSHAKE_RATE_BURST,
  HANDSHAKE_RATE_PER_SECOND,
  INITIATION_FLOOD_INTERVAL,
  KEEPALIVE_TIMEOUT,
  MAX_STAGED_PACKETS,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_ON_RECEIVE_AGE,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
  UNDER_LOAD_STICKY,
} from "./constants.js";
import { CookieChecker, CookieJar, endpointBytes } from "./cookie.js";
import { nobleCrypto } from "./crypto/noble.js";
import type { CryptoBackend, RandomSource } from "./crypto/types.js";
import { type IpPrefix, packetAddresses, parseCidr } from "./ip.js";
import { formatKeyLogLine } from "./keylog.js";
import { compareRank, Keypair, type Rank } from "./keypair.js";
import { keyToBase64 } from "./keys.js";
import {
  type CookieReply,
  decodeMessage,
  encodeInitiation,
  encodeResponse,
  encodeTransport,
  type Initiation,
  type RejectReason,
  type Response,
  type Transport,
} from "./messages.js";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  type SymmetricState,
  splitKeys,
  staticStatic,
  ZERO_KEY,
} from "./noise.js";
import { compareTai64n, tai64n } from "./tai64n.js";
import type { TraceEvent, TraceKind, TraceLevel } from "./trace.js";

/** A UDP peer address. `address` is opaque to the engine (an IP, or a relay session name). */
export interface UdpEndpoint {
  address: string;
  port: number;
}

export interface DeviceOptions {
  privateKey: Uint8Array;
  /** Cryptographically secure random bytes (ephemeral keys, indices, cookies, jitter). */
  random: RandomSource;
  /** Wall-clock time in ns since the Unix epoch, used only for TAI64N timestamps. */
  wallClock: () => bigint;
  crypto?: CryptoBackend;
  /** Emit Wireshark key log lines (including ephemeral private keys) in each output. */
  keyLog?: boolean;
  /** Handshake messages per second from which cookies are required (0: always). */
  underLoadThreshold?: number;
  /** Plaintext is padded to a multiple of 16 bytes, but not beyond this. */
  mtu?: number;
  /**
   * What to do with our pending initiation when the peer's initiation crosses it. "keep-both"
   * (default) answers theirs and keeps ours alive, so no handshake is lost. "latest-wins" drops
   * ours, as wireguard-go and the kernel do; it exists to compare against that behaviour.
   */
  collisionPolicy?: "keep-both" | "latest-wins";
  /**
   * Called when a fully authenticated initiation comes from a key that is not a peer: return peer
   * options to admit it (e.g. a public demo server), or undefined to reject it as usual.
   */
  admitPeer?: (publicKey: Uint8Array) => Omit<PeerOptions, "publicKey"> | undefined;
}

export interface PeerOptions {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array;
  allowedIps?: readonly (string | IpPrefix)[];
  endpoint?: UdpEndpoint;
  /** Seconds; 0 or absent is off. */
  persistentKeepalive?: number;
}

export interface OutgoingDatagram {
  to: UdpEndpoint;
  data: Uint8Array;
}

export interface DeliveredPacket {
  /** Base64 public key of the peer it came from. */
  peer: string;
  data: Uint8Array;
}

/** Everything one call produced. `deadline`: call `tick` at this `now` (or earlier) at the latest. */
export interface Output {
  datagrams: OutgoingDatagram[];
  packets: DeliveredPacket[];
  events: TraceEvent[];
  keyLog: string[];
  deadline: number | undefined;
}

export interface PeerStatus {
  publicKey: string;
  endpoint: UdpEndpoint | undefined;
  handshake: "none" | "initiation-sent" | "established";
  lastHandshakeAt: number | undefined;
  txBytes: number;
  rxBytes: number;
  /** Creation time (caller's clock) of each keypair slot in use. */
  keypairs: { slot: "previous" | "current" | "next"; createdAt: number; isInitiator: boolean }[];
  stagedPackets: number;
}

/** Sizes of a device's internal tables (see `Device.stats`). */
export interface DeviceStats {
  peers: number;
  /** Local indices in use: keypairs and pending initiations. */
  indices: number;
  /** Per-source token buckets of the under-load rate limiter. */
  rateLimiterBuckets: number;
  stagedPackets: number;
  pendingInitiations: number;
}

/** Why a datagram or packet was not taken; counted in `Device.rejections`. */
export type DeviceRejection =
  | RejectReason
  | "mac1"
  | "cookie-required"
  | "rate-limited"
  | "unknown-index"
  | "unknown-peer"
  | "decrypt"
  | "replayed-timestamp"
  | "initiation-flood"
  | "replayed-counter"
  | "keypair-expired"
  | "bad-cookie"
  | "low-order-key"
  | "invalid-inner-packet"
  | "source-not-allowed"
  | "no-route"
  | "no-endpoint"
  | "staged-overflow";

interface PendingInitiation {
  localIndex: number;
  ephemeralPrivate: Uint8Array;
  state: SymmetricState;
  round: number;
}

type Timer = "retransmit" | "keepalive" | "newHandshake" | "zero" | "persistent";

class Peer {
  readonly id: string;
  readonly staticStatic: Uint8Array | null;
  readonly presharedKey: Uint8Array;
  readonly cookies: CookieJar;
  endpoint: UdpEndpoint | undefined;
  persistentKeepalive: number;
  /**
   * Our initiations still awaiting a response, newest first. The one a retransmission replaced is
   * kept too, so a response to it that was merely late still completes a handshake.
   */
  pendings: PendingInitiation[] = [];
  previous: Keypair | null = null;
  current: Keypair | null = null;
  next: Keypair | null = null;
  /** Handshake rounds; crossing handshakes share one (see keypair.ts). */
  round = 0;
  latestTimestamp: Uint8Array | null = null;
  lastInitiationConsumedAt = Number.NEGATIVE_INFINITY;
  lastInitiationSentAt = Number.NEGATIVE_INFINITY;
  lastResponseSentAt = Number.NEGATIVE_INFINITY;
  lastHandshakeAt: number | undefined;
  handshakeAttempts = 0;
  sentLastMinuteHandshake = false;
  needAnotherKeepalive = false;
  readonly timers: Partial<Record<Timer, number>> = {};
  /** Plaintext waiting for a session; an empty array is a keepalive. */
  staged: Uint8Array[] = [];
  txBytes = 0;
  rxBytes = 0;

  constructor(
    readonly publicKey: Uint8Array,
    c: CryptoBackend,
    localPrivate: Uint8Array,
    options: PeerOptions,
  ) {
    this.id = keyToBase64(publicKey);
    this.staticStatic = staticStatic(c, localPrivate, publicKey);
    this.presharedKey = options.presharedKey ? options.presharedKey.slice() : ZERO_KEY;
    this.cookies = new CookieJar(c, publicKey);
    this.endpoint = options.endpoint ? { ...options.endpoint } : undefined;
    this.persistentKeepalive = (options.persistentKeepalive ?? 0) * 1000;
  }
}

type IndexEntry = { peer: Peer; keypair: Keypair | null };

const EMPTY = new Uint8Array(0);

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function sameEndpoint(a: UdpEndpoint | undefined, b: UdpEndpoint): boolean {
  return a !== undefined && a.address === b.address && a.port === b.port;
}

function requireKey(label: string, key: unknown): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new TypeError(`${label}: expected a 32-byte Uint8Array`);
  }
  return key;
}

function requireTime(now: unknown): number {
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new TypeError("now: expected a finite number of milliseconds");
  }
  return now;
}

export class Device {
  readonly publicKey: Uint8Array;
  readonly publicKeyBase64: string;
  /** Counts of everything rejected, by reason. */
  readonly rejections = new Map<DeviceRejection, number>();
  readonly #c: CryptoBackend;
  readonly #privateKey: Uint8Array;
  readonly #random: RandomSource;
  readonly #wallClock: () => bigint;
  readonly #keyLog: boolean;
  readonly #mtu: number;
  readonly #underLoadThreshold: number;
  readonly #keepBoth: boolean;
  readonly #admitPeer: DeviceOptions["admitPeer"];
  readonly #checker: CookieChecker;
  readonly #peers = new Map<string, Peer>();
  readonly #routes = new AllowedIps<Peer>();
  readonly #indices = new Map<number, IndexEntry>();
  #sequence = 0;
  #handshakeWindowStart = Number.NEGATIVE_INFINITY;
  #handshakeCount = 0;
  #underLoadUntil = Number.NEGATIVE_INFINITY;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #out: Output = Device.#emptyOutput();
  #now = 0;

  constructor(options: DeviceOptions) {
    this.#c = options.crypto ?? nobleCrypto;
    this.#privateKey = requireKey("privateKey", options.privateKey).slice();
    if (typeof options.random !== "function") throw new TypeError("random: expected a function");
    if (typeof options.wallClock !== "function") {
      throw new TypeError("wallClock: expected a function returning ns since the epoch");
    }
    this.#random = options.random;
    this.#wallClock = options.wallClock;
    this.#keyLog = options.keyLog ?? false;
    this.#mtu = options.mtu ?? DEFAULT_MTU;
    this.#underLoadThreshold = options.underLoadThreshold ?? DEFAULT_UNDER_LOAD_THRESHOLD;
    this.#keepBoth = (options.collisionPolicy ?? "keep-both") === "keep-both";
    this.#admitPeer = options.admitPeer;
    this.publicKey = this.#c.x25519Public(this.#privateKey);
    this.publicKeyBase64 = keyToBase64(this.publicKey);
    this.#checker = new CookieChecker(this.#c, this.publicKey);
  }

  static #emptyOutput(): Output {
    return { datagrams: [], packets: [], events: [], keyLog: [], deadline: undefined };
  }

  // ---------------------------------------------------------------- public API

  /** Adds a peer (or replaces one with the same key). */
  addPeer(now: number, options: PeerOptions): Output {
    this.#begin(now);
    this.#addPeer(options, "configured");
    return this.#finish();
  }

  #addPeer(options: PeerOptions, reason: string): void {
    const publicKey = requireKey("publicKey", options.publicKey).slice();
    if (options.presharedKey !== undefined) requireKey("presharedKey", options.presharedKey);
    const id = keyToBase64(publicKey);
    const prefixes = (options.allowedIps ?? []).map((entry) => {
      if (typeof entry !== "string") return entry;
      const parsed = parseCidr(entry);
      if (!parsed.ok) throw new TypeError(`allowedIps: ${parsed.error}`);
      return parsed.prefix;
    });
    if (this.#peers.has(id)) this.#removePeer(this.#peers.get(id)!, "replaced");
    const peer = new Peer(publicKey, this.#c, this.#privateKey, options);
    this.#peers.set(id, peer);
    for (const prefix of prefixes) this.#routes.insert(prefix, peer);
    this.#event(peer, "peer-added", "info", { reason });
    if (this.#keyLog) {
      if (this.#peers.size === 1) this.#log("LOCAL_STATIC_PRIVATE_KEY", this.#privateKey);
      this.#log("REMOTE_STATIC_PUBLIC_KEY", publicKey);
    }
    if (peer.persistentKeepalive > 0) this.#sendKeepalive(peer);
  }

  removePeer(now: number, publicKey: Uint8Array): Output {
    this.#begin(now);
    const peer = this.#peers.get(keyToBase64(requireKey("publicKey", publicKey)));
    if (peer) this.#removePeer(peer, "removed");
    return this.#finish();
  }

  /** A datagram arrived from `from`. Never throws on its contents. */
  receive(now: number, datagram: Uint8Array, from: UdpEndpoint): Output {
    this.#begin(now);
    if (!(datagram instanceof Uint8Array)) throw new TypeError("datagram: expected a Uint8Array");
    const decoded = decodeMessage(datagram);
    if (!decoded.ok) {
      this.#reject(undefined, decoded.reason, decoded.detail);
    } else {
      const m = decoded.message;
      if (m.type === 1) this.#onInitiation(m, from);
      else if (m.type === 2) this.#onResponse(m, from);
      else if (m.type === 3) this.#onCookieReply(m);
      else this.#onTransport(m, from);
    }
    return this.#finish();
  }

  /** A plaintext IP packet to send; routed to a peer by its destination address. */
  send(now: number, packet: Uint8Array): Output {
    this.#begin(now);
    if (!(packet instanceof Uint8Array)) throw new TypeError("packet: expected a Uint8Array");
    const addresses = packetAddresses(packet);
    const peer = addresses && this.#routes.lookup(addresses.family, addresses.destination);
    if (!addresses) this.#reject(undefined, "invalid-inner-packet", "not an IPv4/IPv6 packet");
    else if (!peer)
      this.#reject(undefined, "no-route", "no peer's allowed IPs contain the destination");
    else if (peer.staged.length === 0 && this.#usable(peer.current)) {
      // Fast path: nothing queued ahead of it and a session is up, so seal the caller's bytes
      // directly instead of copying them into the queue first.
      this.#sendTransport(peer, peer.current, packet.subarray(0, addresses.totalLength));
      this.#keepFreshSending(peer);
    } else {
      this.#stage(peer, packet.subarray(0, addresses.totalLength));
      this.#sendStaged(peer);
    }
    return this.#finish();
  }

  /**
   * A plaintext packet for one peer, bypassing allowed-IPs routing (a server answering whoever
   * asked). The peer still checks the source address against its own allowed IPs.
   */
  sendToPeer(now: number, publicKey: Uint8Array, packet: Uint8Array): Output {
    this.#begin(now);
    if (!(packet instanceof Uint8Array)) throw new TypeError("packet: expected a Uint8Array");
    const peer = this.#peers.get(keyToBase64(requireKey("publicKey", publicKey)));
    if (!peer) throw new RangeError("sendToPeer: unknown peer");
    this.#stage(peer, packet);
    this.#sendStaged(peer);
    return this.#finish();
  }

  /** Runs every timer due at `now`. */
  tick(now: number): Output {
    this.#begin(now);
    for (const peer of this.#peers.values()) this.#runTimers(peer);
    return this.#finish();
  }

  /** Starts a handshake with a peer now (subject to the REKEY_TIMEOUT rate limit). */
  initiateHandshake(now: number, publicKey: Uint8Array): Output {
    this.#begin(now);
    const peer = this.#peers.get(keyToBase64(requireKey("publicKey", publicKey)));
    if (!peer) throw new RangeError("initiateHandshake: unknown peer");
    this.#initiate(peer, false, "requested");
    return this.#finish();
  }

  /** Sets or clears a peer's endpoint (e.g. once a relay session exists). */
  setEndpoint(publicKey: Uint8Array, endpoint: UdpEndpoint | undefined): void {
    const peer = this.#peers.get(keyToBase64(requireKey("publicKey", publicKey)));
    if (!peer) throw new RangeError("setEndpoint: unknown peer");
    peer.endpoint = endpoint ? { ...endpoint } : undefined;
  }

  peerStatus(publicKey: Uint8Array): PeerStatus | undefined {
    const peer = this.#peers.get(keyToBase64(requireKey("publicKey", publicKey)));
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
      keypairs: slots,
      stagedPackets: peer.staged.length,
    };
  }

  /** Local index of the keypair each side sends on — equal indices mean the same handshake. */
  currentKeypair(publicKey: Uint8Array): { localIndex: number; remoteIndex: number } | undefined {
    const peer = this.#peers.get(keyToBase64(requireKey("publicKey", publicKey)));
    const k = peer?.current;
    return k ? { localIndex: k.localIndex, remoteIndex: k.remoteIndex } : undefined;
  }

  get peerCount(): number {
    return this.#peers.size;
  }

  /** Sizes of the internal tables, to check that hostile traffic cannot make them grow. */
  get stats(): DeviceStats {
    let stagedPackets = 0;
    let pendingInitiations = 0;
    for (const peer of this.#peers.values()) {
      stagedPackets += peer.staged.length;
      pendingInitiations += peer.pendings.length;
    }
    return {
      peers: this.#peers.size,
      indices: this.#indices.size,
      rateLimiterBuckets: this.#buckets.size,
      stagedPackets,
      pendingInitiations,
    };
  }

  // ---------------------------------------------------------------- output plumbing

  #begin(now: number): void {
    this.#now = requireTime(now);
    this.#out = Device.#emptyOutput();
  }

  #finish(): Output {
    let deadline: number | undefined;
    for (const peer of this.#peers.values()) {
      const timers = peer.timers;
      for (const timer in timers) {
        const at = timers[timer as Timer];
        if (at !== undefined && (deadline === undefined || at < deadline)) deadline = at;
      }
    }
    const out = this.#out;
    out.deadline = deadline;
    this.#out = Device.#emptyOutput();
    return out;
  }

  #event(
    peer: Peer | undefined,
    kind: TraceKind,
    level: TraceLevel,
    fields: Omit<TraceEvent, "time" | "kind" | "level" | "peer">,
  ): void {
    const event: TraceEvent = { time: this.#now, kind, level, ...fields };
    if (peer) event.peer = peer.id;
    this.#out.events.push(event);
  }

  #reject(peer: Peer | undefined, reason: DeviceRejection, detail: string, fields = {}): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
    this.#event(peer, "rejected", "debug", { ...fields, reason: `${reason}: ${detail}` });
  }

  #log(type: Parameters<typeof formatKeyLogLine>[0], key: Uint8Array): void {
    this.#out.keyLog.push(formatKeyLogLine(type, key));
  }

  #transmit(peer: Peer, data: Uint8Array): boolean {
    if (!peer.endpoint) {
      this.#reject(peer, "no-endpoint", "peer has no known endpoint");
      return false;
    }
    this.#out.datagrams.push({ to: { ...peer.endpoint }, data });
    peer.txBytes += data.length;
    return true;
  }

  #newIndex(entry: IndexEntry): number {
    for (;;) {
      const b = this.#random(4);
      const index = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      if (!this.#indices.has(index)) {
        this.#indices.set(index, entry);
        return index;
      }
    }
  }

  #jitter(): number {
    const b = this.#random(2);
    return ((b[0]! | (b[1]! << 8)) % (REKEY_TIMEOUT_JITTER_MAX + 1)) as number;
  }

  #ephemeral(peer: Peer): Uint8Array {
    const key = this.#random(32).slice();
    if (this.#keyLog) {
      this.#log("LOCAL_EPHEMERAL_PRIVATE_KEY", key);
      if (peer.presharedKey !== ZERO_KEY) this.#log("PRESHARED_KEY", peer.presharedKey);
    }
    return key;
  }

  // ---------------------------------------------------------------- handshake

  /** mac1, then (under load) mac2 and the per-source rate limit. False: drop the message. */
  #admitHandshake(bytes: Uint8Array, sender: number, from: UdpEndpoint): boolean {
    if (!this.#checker.checkMac1(bytes)) {
      this.#reject(undefined, "mac1", "handshake message without a valid mac1");
      return false;
    }
    if (this.#now - this.#handshakeWindowStart >= 1000) {
      this.#handshakeWindowStart = this.#now;
      this.#handshakeCount = 0;
    }
    this.#handshakeCount++;
    if (this.#handshakeCount >= this.#underLoadThreshold) {
      this.#underLoadUntil = this.#now + UNDER_LOAD_STICKY;
    }
    if (this.#now >= this.#underLoadUntil) return true;
    const source = endpointBytes(from.address, from.port);
    if (!this.#checker.checkMac2(this.#now, bytes, source)) {
      const reply = this.#checker.createReply(this.#now, this.#random, bytes, sender, source);
      this.#out.datagrams.push({ to: { ...from }, data: reply });
      this.#reject(undefined, "cookie-required", "under load: answered with a cookie reply");
      this.#event(undefined, "cookie-sent", "debug", { remoteIndex: sender });
      return false;
    }
    if (!this.#takeToken(from.address)) {
      this.#reject(
        undefined,
        "rate-limited",
        `under load: more than ${HANDSHAKE_RATE_PER_SECOND}/s from ${from.address}`,
      );
      return false;
    }
    return true;
  }

  #takeToken(address: string): boolean {
    let bucket = this.#buckets.get(address);
    if (!bucket) {
      if (this.#buckets.size >= 4096) {
        for (const [key, b] of this.#buckets)
          if (this.#now - b.at > 1000) this.#buckets.delete(key);
        if (this.#buckets.size >= 4096) return false;
      }
      bucket = { tokens: HANDSHAKE_RATE_BURST, at: this.#now };
      this.#buckets.set(address, bucket);
    }
    const refill = ((this.#now - bucket.at) / 1000) * HANDSHAKE_RATE_PER_SECOND;
    bucket.tokens = Math.min(HANDSHAKE_RATE_BURST, bucket.tokens + refill);
    bucket.at = this.#now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #onInitiation(m: Initiation, from: UdpEndpoint): void {
    if (!this.#admitHandshake(m.bytes, m.sender, from)) return;
    let peer: Peer | undefined;
    let stranger: Uint8Array | undefined;
    const consumed = consumeInitiation(this.#c, {
      localStaticPrivate: this.#privateKey,
      localStaticPublic: this.publicKey,
      ephemeralPublic: m.ephemeral,
      encryptedStatic: m.encryptedStatic,
      encryptedPayload: m.encryptedTimestamp,
      staticStaticFor: (remote) => {
        peer = this.#peers.get(keyToBase64(remote));
        if (peer || !this.#admitPeer) return peer?.staticStatic ?? null;
        // Admission happens only after the whole initiation authenticated (below).
        stranger = remote.slice();
        return staticStatic(this.#c, this.#privateKey, remote);
      },
    });
    if (consumed && !peer && stranger) {
      const admitted = this.#admitPeer?.(stranger);
      if (admitted) {
        this.#addPeer({ ...admitted, publicKey: stranger }, "admitted");
        peer = this.#peers.get(keyToBase64(stranger));
      }
    }
    if (!consumed || !peer) {
      const why = peer ? "initiation did not decrypt" : "initiation from an unknown key";
      this.#reject(peer, peer ? "decrypt" : "unknown-peer", why, { remoteIndex: m.sender });
      return;
    }
    if (peer.latestTimestamp && compareTai64n(consumed.payload, peer.latestTimestamp) <= 0) {
      this.#reject(peer, "replayed-timestamp", "timestamp not newer than the last one", {
        remoteIndex: m.sender,
      });
      return;
    }
    if (this.#now - peer.lastInitiationConsumedAt < INITIATION_FLOOD_INTERVAL) {
      this.#reject(
        peer,
        "initiation-flood",
        `more than one initiation in ${INITIATION_FLOOD_INTERVAL} ms`,
        {
          remoteIndex: m.sender,
        },
      );
      return;
    }
    peer.latestTimestamp = consumed.payload.slice();
    peer.lastInitiationConsumedAt = this.#now;
    this.#roam(peer, from);
    this.#authenticatedTraversal(peer);
    this.#authenticatedReceived(peer);

    // A crossing initiation is not an error: answer it and keep our own pending one alive, so
    // both handshakes complete; ranks then pick the same winner on both sides.
    const theyWin = compareKeys(peer.publicKey, this.publicKey) > 0;
    const current = peer.current;
    if (!this.#keepBoth) this.#dropPendings(peer);
    const pending = peer.pendings[0];
    let round: number;
    if (pending) {
      round = pending.round;
      this.#event(peer, "collision", "info", {
        role: "responder",
        localIndex: pending.localIndex,
        remoteIndex: m.sender,
        reason: `initiations crossed; keeping ours alive and answering theirs; ${theyWin ? "their" : "our"} handshake wins (greater static key)`,
      });
    } else if (
      this.#keepBoth &&
      current?.isInitiator &&
      !current.received &&
      this.#now - current.createdAt < REKEY_TIMEOUT
    ) {
      round = current.rank.round;
      this.#event(peer, "collision", "info", {
        role: "responder",
        localIndex: current.localIndex,
        remoteIndex: m.sender,
        reason: `initiation crossed our just-completed handshake; ${theyWin ? "their" : "our"} handshake wins (greater static key)`,
      });
    } else {
      round = ++peer.round;
    }
    this.#event(peer, "initiation-consumed", "debug", { role: "responder", remoteIndex: m.sender });

    const ephemeralPrivate = this.#ephemeral(peer);
    const response = createResponse(this.#c, {
      state: consumed.state,
      remoteEphemeral: consumed.remoteEphemeral,
      remoteStatic: consumed.remoteStatic,
      ephemeralPrivate,
      presharedKey: peer.presharedKey,
    });
    ephemeralPrivate.fill(0);
    if (!response) {
      this.#reject(peer, "low-order-key", "initiator's ephemeral key is low order");
      return;
    }
    const entry: IndexEntry = { peer, keypair: null };
    const localIndex = this.#newIndex(entry);
    const bytes = encodeResponse({
      sender: localIndex,
      receiver: m.sender,
      ephemeral: response.ephemeralPublic,
      encryptedNothing: response.encryptedPayload,
    });
    peer.cookies.addMacs(this.#now, bytes);
    const [initiatorToResponder, responderToInitiator] = splitKeys(
      this.#c,
      response.state.chainKey,
    );
    const rank: Rank = { round, winner: theyWin, sequence: ++this.#sequence };
    const keypair = new Keypair(
      localIndex,
      m.sender,
      responderToInitiator,
      initiatorToResponder,
      false,
      this.#now,
      rank,
    );
    entry.keypair = keypair;
    peer.lastResponseSentAt = this.#now;
    this.#place(peer, keypair);
    this.#setTimer(peer, "zero", REJECT_AFTER_TIME * 3);
    this.#transmit(peer, bytes);
    this.#event(peer, "response-sent", "debug", {
      role: "responder",
      localIndex,
      remoteIndex: m.sender,
      from: "initiation-consumed",
      to: "response-sent",
    });
    this.#authenticatedTraversal(peer);
    this.#authenticatedSent(peer);
  }

  #onResponse(m: Response, from: UdpEndpoint): void {
    if (!this.#admitHandshake(m.bytes, m.sender, from)) return;
    const entry = this.#indices.get(m.receiver);
    const peer = entry?.peer;
    const pending = peer?.pendings.find((p) => p.localIndex === m.receiver);
    if (!entry || !peer || !pending) {
      this.#reject(peer, "unknown-index", "response to no initiation in flight", {
        localIndex: m.receiver,
        remoteIndex: m.sender,
      });
      return;
    }
    const done = consumeResponse(this.#c, {
      state: pending.state,
      localEphemeralPrivate: pending.ephemeralPrivate,
      localStaticPrivate: this.#privateKey,
      ephemeralPublic: m.ephemeral,
      encryptedPayload: m.encryptedNothing,
      presharedKey: peer.presharedKey,
    });
    if (!done) {
      this.#reject(peer, "decrypt", "response did not authenticate", {
        localIndex: m.receiver,
        remoteIndex: m.sender,
      });
      return;
    }
    // The attempt is complete: the earlier initiation it retransmitted is now stale, and left
    // pending it would make the peer's next initiation look like a crossing one (ranked into the
    // finished round, so the two sides would keep sending on different keypairs).
    pending.ephemeralPrivate.fill(0);
    peer.pendings = peer.pendings.filter((p) => p !== pending);
    this.#dropPendings(peer);
    this.#roam(peer, from);
    this.#authenticatedTraversal(peer);
    this.#authenticatedReceived(peer);
    const [initiatorToResponder, responderToInitiator] = splitKeys(this.#c, done.state.chainKey);
    const rank: Rank = {
      round: pending.round,
      winner: compareKeys(this.publicKey, peer.publicKey) > 0,
      sequence: ++this.#sequence,
    };
    const keypair = new Keypair(
      m.receiver,
      m.sender,
      initiatorToResponder,
      responderToInitiator,
      true,
      this.#now,
      rank,
    );
    entry.keypair = keypair;
    this.#event(peer, "response-consumed", "info", {
      role: "initiator",
      localIndex: m.receiver,
      remoteIndex: m.sender,
      from: "initiation-sent",
      to: "established",
    });
    this.#place(peer, keypair);
    this.#setTimer(peer, "zero", REJECT_AFTER_TIME * 3);
    this.#handshakeComplete(peer);
    this.#sendKeepalive(peer);
  }

  #onCookieReply(m: CookieReply): void {
    const peer = this.#indices.get(m.receiver)?.peer;
    if (!peer) {
      this.#reject(undefined, "unknown-index", "cookie reply for no message of ours", {
        localIndex: m.receiver,
      });
      return;
    }
    if (!peer.cookies.consumeReply(this.#now, m)) {
      this.#reject(peer, "bad-cookie", "cookie reply did not decrypt", { localIndex: m.receiver });
      return;
    }
    this.#event(peer, "cookie-received", "info", {
      localIndex: m.receiver,
      reason: "peer is under load; the next handshake message carries mac2",
    });
  }

  /** Sends an initiation unless one went out less than REKEY_TIMEOUT ago. */
  #initiate(peer: Peer, isRetry: boolean, reason: string): void {
    if (!isRetry) peer.handshakeAttempts = 0;
    const sinceInitiation = this.#now - peer.lastInitiationSentAt;
    const sinceResponse = this.#now - peer.lastResponseSentAt;
    if (sinceInitiation < REKEY_TIMEOUT || (!isRetry && sinceResponse < REKEY_TIMEOUT)) {
      this.#event(peer, "initiation-suppressed", "debug", {
        reason: `${reason}: a handshake message went out less than REKEY_TIMEOUT ago`,
      });
      return;
    }
    if (!peer.endpoint) {
      this.#reject(peer, "no-endpoint", `${reason}: cannot initiate without an endpoint`);
      return;
    }
    if (!peer.staticStatic) {
      this.#reject(peer, "low-order-key", "peer's public key is low order");
      return;
    }
    const ephemeralPrivate = this.#ephemeral(peer);
    const init = createInitiation(this.#c, {
      localStaticPublic: this.publicKey,
      staticStatic: peer.staticStatic,
      remoteStaticPublic: peer.publicKey,
      ephemeralPrivate,
      payload: tai64n(this.#wallClock()),
    });
    if (!init) {
      this.#reject(peer, "low-order-key", "peer's public key is low order");
      return;
    }
    const previous = peer.pendings[0];
    // Keep only the newest earlier initiation alongside the new one.
    for (const stale of peer.pendings.splice(1)) {
      this.#indices.delete(stale.localIndex);
      stale.ephemeralPrivate.fill(0);
    }
    const localIndex = this.#newIndex({ peer, keypair: null });
    const bytes = encodeInitiation({
      sender: localIndex,
      ephemeral: init.ephemeralPublic,
      encryptedStatic: init.encryptedStatic,
      encryptedTimestamp: init.encryptedPayload,
    });
    peer.cookies.addMacs(this.#now, bytes);
    // A retransmission continues the same attempt: it keeps the round, so a late response to the
    // earlier initiation ranks exactly as the peer ranks it.
    const round = previous ? previous.round : ++peer.round;
    peer.pendings.unshift({ localIndex, ephemeralPrivate, state: init.state, round });
    peer.lastInitiationSentAt = this.#now;
    this.#transmit(peer, bytes);
    this.#event(peer, "initiation-sent", isRetry ? "info" : "debug", {
      role: "initiator",
      localIndex,
      from: previous ? "initiation-sent" : "none",
      to: "initiation-sent",
      reason: isRetry ? `${reason} (attempt ${peer.handshakeAttempts + 1})` : reason,
    });
    this.#authenticatedTraversal(peer);
    this.#authenticatedSent(peer);
    this.#setTimer(peer, "retransmit", REKEY_TIMEOUT + this.#jitter());
  }

  // ---------------------------------------------------------------- keypairs

  /**
   * Puts a new keypair in its slot by rank. A usable (initiator) keypair becomes current if it
   * outranks the current one; an unconfirmed (responder) one waits in `next`. Outranked keypairs go
   * to `previous`: they can still receive, never send.
   */
  #place(peer: Peer, k: Keypair): void {
    const current = peer.current;
    const outranks = !current || compareRank(k.rank, current.rank) > 0;
    const role = k.isInitiator ? "initiator" : "responder";
    let slot: "current" | "next" | "previous";
    if (outranks && k.confirmed) {
      this.#retire(peer, peer.previous);
      if (peer.next && compareRank(peer.next.rank, k.rank) < 0) {
        // The outranked crossing handshake: its initiator may still send on it for a moment, so
        // it stays receivable (as wireguard-go keeps `next` as `previous` here).
        this.#retire(peer, current);
        peer.previous = peer.next;
        peer.next = null;
      } else {
        peer.previous = current;
      }
      peer.current = k;
      slot = "current";
    } else if (outranks) {
      this.#retire(peer, peer.next);
      peer.next = k;
      slot = "next";
    } else {
      this.#retire(peer, peer.previous);
      peer.previous = k;
      slot = "previous";
    }
    this.#event(peer, "keypair-created", "debug", {
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

  #retire(peer: Peer, k: Keypair | null): void {
    if (!k) return;
    const entry = this.#indices.get(k.localIndex);
    if (entry?.keypair === k) this.#indices.delete(k.localIndex);
    k.zero();
    this.#event(peer, "keypair-retired", "debug", {
      localIndex: k.localIndex,
      remoteIndex: k.remoteIndex,
    });
  }

  /** Data arrived on `k`. True when that moved it to `current` (key confirmation). */
  #receivedWith(peer: Peer, k: Keypair): boolean {
    k.received = true;
    if (k === peer.next) {
      k.confirmed = true;
      this.#retire(peer, peer.previous);
      peer.previous = peer.current;
      peer.current = k;
      peer.next = null;
      this.#event(peer, "keypair-confirmed", "info", {
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
      this.#now - current.createdAt >= REKEY_TIMEOUT &&
      k.rank.sequence > current.rank.sequence
    ) {
      peer.previous = current;
      peer.current = k;
      this.#event(peer, "keypair-confirmed", "info", {
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

  #usable(k: Keypair | null): k is Keypair {
    return (
      !!k?.confirmed &&
      this.#now - k.createdAt < REJECT_AFTER_TIME &&
      k.sendCounter < REJECT_AFTER_MESSAGES
    );
  }

  // ---------------------------------------------------------------- transport

  #onTransport(m: Transport, from: UdpEndpoint): void {
    const entry = this.#indices.get(m.receiver);
    const k = entry?.keypair;
    if (!entry || !k) {
      this.#reject(entry?.peer, "unknown-index", "transport data for no keypair", {
        localIndex: m.receiver,
      });
      return;
    }
    const peer = entry.peer;
    if (this.#now - k.createdAt >= REJECT_AFTER_TIME) {
      this.#reject(peer, "keypair-expired", "keypair older than REJECT_AFTER_TIME", {
        localIndex: m.receiver,
      });
      return;
    }
    if (!k.replay.check(m.counter)) {
      this.#reject(peer, "replayed-counter", `counter ${m.counter} replayed or too old`, {
        localIndex: m.receiver,
      });
      return;
    }
    const plaintext = this.#c.open(k.receiveKey, m.counter, m.encrypted, EMPTY);
    if (!plaintext) {
      this.#reject(peer, "decrypt", "transport data did not authenticate", {
        localIndex: m.receiver,
      });
      return;
    }
    if (!k.replay.accept(m.counter)) {
      this.#reject(peer, "replayed-counter", `counter ${m.counter} replayed`, {
        localIndex: m.receiver,
      });
      return;
    }
    if (this.#receivedWith(peer, k)) {
      this.#handshakeComplete(peer);
      this.#sendStaged(peer);
    }
    this.#keepFreshReceiving(peer);
    this.#authenticatedTraversal(peer);
    this.#authenticatedReceived(peer);
    this.#roam(peer, from);
    peer.rxBytes += m.bytes.length;
    if (plaintext.length === 0) return; // keepalive
    this.#dataReceived(peer);
    const addresses = packetAddresses(plaintext);
    if (!addresses) {
      this.#reject(peer, "invalid-inner-packet", "decrypted data is not an IP packet");
      return;
    }
    if (this.#routes.lookup(addresses.family, addresses.source) !== peer) {
      this.#reject(
        peer,
        "source-not-allowed",
        "inner source address not in the peer's allowed IPs",
      );
      return;
    }
    this.#out.packets.push({ peer: peer.id, data: plaintext.subarray(0, addresses.totalLength) });
  }

  #stage(peer: Peer, packet: Uint8Array): void {
    if (peer.staged.length >= MAX_STAGED_PACKETS) {
      peer.staged.shift();
      this.#reject(peer, "staged-overflow", "staged queue full: dropped the oldest packet");
    }
    peer.staged.push(packet.slice());
  }

  /** Encrypts every staged packet on the current keypair, or starts a handshake if there is none. */
  #sendStaged(peer: Peer): void {
    if (peer.staged.length === 0) return;
    const k = peer.current;
    if (!this.#usable(k)) {
      this.#initiate(peer, false, "data waiting for a session");
      return;
    }
    const staged = peer.staged;
    peer.staged = [];
    for (const packet of staged) this.#sendTransport(peer, k, packet);
    this.#keepFreshSending(peer);
  }

  #sendTransport(peer: Peer, k: Keypair, packet: Uint8Array): void {
    const counter = k.sendCounter++;
    const padded = this.#pad(packet);
    const sealed = this.#c.seal(k.sendKey, counter, padded, EMPTY);
    if (!this.#transmit(peer, encodeTransport(k.remoteIndex, counter, sealed))) return;
    if (packet.length === 0) {
      this.#event(peer, "keepalive-sent", "debug", { localIndex: k.localIndex });
    }
    this.#authenticatedTraversal(peer);
    this.#authenticatedSent(peer);
    if (packet.length > 0) this.#dataSent(peer);
  }

  #pad(packet: Uint8Array): Uint8Array {
    const rest = packet.length % 16;
    if (rest === 0) return packet;
    const length = Math.min(packet.length + 16 - rest, Math.max(this.#mtu, packet.length));
    if (length === packet.length) return packet;
    const padded = new Uint8Array(length);
    padded.set(packet);
    return padded;
  }

  /** wireguard-go's SendKeepalive: a keepalive if nothing is staged, then flush (or handshake). */
  #sendKeepalive(peer: Peer): void {
    if (peer.staged.length === 0) peer.staged.push(EMPTY);
    this.#sendStaged(peer);
  }

  #keepFreshSending(peer: Peer): void {
    const k = peer.current;
    if (!k) return;
    if (
      k.sendCounter > REKEY_AFTER_MESSAGES ||
      (k.isInitiator && this.#now - k.createdAt > REKEY_AFTER_TIME)
    ) {
      this.#initiate(peer, false, "rekey: keypair aged");
    }
  }

  #keepFreshReceiving(peer: Peer): void {
    if (peer.sentLastMinuteHandshake) return;
    const k = peer.current;
    if (k?.isInitiator && this.#now - k.createdAt > REKEY_ON_RECEIVE_AGE) {
      peer.sentLastMinuteHandshake = true;
      this.#initiate(peer, false, "rekey: keypair near expiry on receive");
    }
  }

  #roam(peer: Peer, from: UdpEndpoint): void {
    if (sameEndpoint(peer.endpoint, from)) return;
    const before = peer.endpoint ? `${peer.endpoint.address}:${peer.endpoint.port}` : "none";
    peer.endpoint = { address: from.address, port: from.port };
    this.#event(peer, "endpoint-changed", "info", {
      from: before,
      to: `${from.address}:${from.port}`,
    });
  }

  #removePeer(peer: Peer, reason: string): void {
    this.#zeroAll(peer);
    this.#routes.removeByValue(peer);
    this.#peers.delete(peer.id);
    for (const [index, entry] of this.#indices)
      if (entry.peer === peer) this.#indices.delete(index);
    this.#event(peer, "peer-removed", "info", { reason });
  }

  #zeroAll(peer: Peer): void {
    for (const slot of ["previous", "current", "next"] as const) {
      this.#retire(peer, peer[slot]);
      peer[slot] = null;
    }
    this.#dropPendings(peer);
    peer.staged = [];
  }

  #dropPendings(peer: Peer): void {
    for (const pending of peer.pendings) {
      this.#indices.delete(pending.localIndex);
      pending.ephemeralPrivate.fill(0);
    }
    peer.pendings = [];
  }

  // ---------------------------------------------------------------- timers (wireguard-go timers.go)

  #setTimer(peer: Peer, timer: Timer, after: number): void {
    peer.timers[timer] = this.#now + after;
  }

  #clearTimer(peer: Peer, timer: Timer): void {
    delete peer.timers[timer];
  }

  #runTimers(peer: Peer): void {
    // Each expiry may arm others; bounded because an expired timer is cleared before it runs.
    for (let guard = 0; guard < 16; guard++) {
      const due = (Object.keys(peer.timers) as Timer[]).find((t) => peer.timers[t]! <= this.#now);
      if (!due) return;
      this.#clearTimer(peer, due);
      if (due === "retransmit") this.#expiredRetransmit(peer);
      else if (due === "keepalive") this.#expiredKeepalive(peer);
      else if (due === "newHandshake") this.#initiate(peer, false, "no reply to data for 15 s");
      else if (due === "zero") this.#expiredZero(peer);
      else if (peer.persistentKeepalive > 0) this.#sendKeepalive(peer);
    }
  }

  #expiredRetransmit(peer: Peer): void {
    // As wireguard-go and the kernel: retry while attempts <= MAX_TIMER_HANDSHAKES, i.e. the first
    // initiation plus MAX_TIMER_HANDSHAKES + 1 retries, then give up on the next expiry.
    if (peer.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      this.#event(peer, "handshake-gave-up", "warn", {
        reason: `no response after ${MAX_TIMER_HANDSHAKES + 2} attempts`,
        from: "initiation-sent",
        to: "none",
      });
      this.#clearTimer(peer, "keepalive");
      peer.staged = [];
      this.#dropPendings(peer);
      if (peer.timers.zero === undefined) this.#setTimer(peer, "zero", REJECT_AFTER_TIME * 3);
      return;
    }
    peer.handshakeAttempts++;
    this.#initiate(peer, true, "retransmit");
  }

  #expiredKeepalive(peer: Peer): void {
    this.#sendKeepalive(peer);
    if (peer.needAnotherKeepalive) {
      peer.needAnotherKeepalive = false;
      this.#setTimer(peer, "keepalive", KEEPALIVE_TIMEOUT);
    }
  }

  #expiredZero(peer: Peer): void {
    this.#zeroAll(peer);
    this.#event(peer, "keys-zeroed", "info", {
      reason: "no new keypair for 3 × REJECT_AFTER_TIME",
      to: "none",
    });
  }

  #handshakeComplete(peer: Peer): void {
    this.#clearTimer(peer, "retransmit");
    peer.handshakeAttempts = 0;
    peer.sentLastMinuteHandshake = false;
    peer.lastHandshakeAt = this.#now;
  }

  #dataSent(peer: Peer): void {
    if (peer.timers.newHandshake === undefined) {
      this.#setTimer(peer, "newHandshake", KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + this.#jitter());
    }
  }

  #dataReceived(peer: Peer): void {
    if (peer.timers.keepalive === undefined) this.#setTimer(peer, "keepalive", KEEPALIVE_TIMEOUT);
    else peer.needAnotherKeepalive = true;
  }

  #authenticatedSent(peer: Peer): void {
    this.#clearTimer(peer, "keepalive");
  }

  #authenticatedReceived(peer: Peer): void {
    this.#clearTimer(peer, "newHandshake");
  }

  #authenticatedTraversal(peer: Peer): void {
    if (peer.persistentKeepalive > 0) this.#setTimer(peer, "persistent", peer.persistentKeepalive);
  }
}
