/** The types of the `Device` API: what goes in and what comes out. */
import type { CryptoBackend, RandomSource } from "./crypto/types.js";
import type { Entropy } from "./entropy.js";
import type { IpPrefix } from "./ip.js";
import type { RejectReason } from "./messages.js";
import type { TraceEvent } from "./trace.js";

/** A UDP peer address. `address` is opaque to the engine (an IP, or a relay session name). */
export interface UdpEndpoint {
  address: string;
  port: number;
}

export interface DeviceOptions {
  privateKey: Uint8Array;
  /**
   * Cryptographically secure random bytes (ephemeral keys, indices, cookies, jitter). Give this
   * or `entropy`.
   */
  random?: RandomSource;
  /** Random values by purpose; takes precedence over `random` (see entropy.ts). */
  entropy?: Entropy;
  /** Wall-clock time in ns since the Unix epoch, used only for TAI64N timestamps. */
  wallClock: () => bigint;
  crypto?: CryptoBackend;
  /** Emit Wireshark key log lines (including ephemeral private keys) in each output. */
  keyLog?: boolean;
  /** Handshake messages per second from which cookies are required (0: always). */
  underLoadThreshold?: number;
  /**
   * Under load, each source gets its own handshake token bucket. "address" (default, as
   * wireguard-go) keys it by IP; "endpoint" by IP and port, for a peer whose clients all arrive
   * from one address on ports of their own (e.g. behind a relay, one socket per session).
   */
  rateLimitBy?: "address" | "endpoint";
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
  persistentKeepaliveSeconds?: number;
}

export interface OutgoingDatagram {
  /** The peer's endpoint as the device holds it (frozen: shared, not copied, per datagram). */
  to: Readonly<UdpEndpoint>;
  data: Uint8Array;
}

export interface DeliveredPacket {
  /** Base64 public key of the peer it came from. */
  peer: string;
  data: Uint8Array;
}

/**
 * Everything one call produced. `deadline`: call `tick` at this `now` (or earlier) at the latest.
 * The lists are read-only: an empty one is shared by every output (a packet's call allocates only
 * what it produced).
 */
export interface Output {
  readonly datagrams: readonly OutgoingDatagram[];
  readonly packets: readonly DeliveredPacket[];
  readonly events: readonly TraceEvent[];
  readonly keyLog: readonly string[];
  deadline: number | undefined;
}

export interface PeerStatus {
  publicKey: string;
  endpoint: UdpEndpoint | undefined;
  handshake: "none" | "initiation-sent" | "established";
  lastHandshakeAt: number | undefined;
  txBytes: number;
  rxBytes: number;
  /**
   * Transport messages the peer sent that have not arrived: gaps in their counters, which it
   * numbers from 0 on each keypair. A late arrival fills its gap. Whatever lost them (the network,
   * a relay, the browser's queue), nothing else can see these losses; the tail of a burst shows
   * once a later message arrives.
   */
  rxMissing: number;
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
