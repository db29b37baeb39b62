/** One configured peer: its keys, where it is, its handshake, its keypairs and its timers. */
import { CookieJar } from "./cookie.js";
import type { CryptoBackend } from "./crypto/types.js";
import type { PeerOptions, UdpEndpoint } from "./device-types.js";
import {
  type Handshake,
  IDLE,
  nextOf,
  type PendingInitiation,
  pendingsOf,
} from "./handshake-state.js";
import type { Keypair } from "./keypair.js";
import { keyToBase64 } from "./keys.js";
import { staticStatic, ZERO_KEY } from "./noise.js";
import { type Scheduled, TimerTable } from "./timers.js";

/** A copy of `e` that cannot change, so that every datagram to it may share it. */
export function frozenEndpoint(e: UdpEndpoint): Readonly<UdpEndpoint> {
  return Object.freeze({ address: e.address, port: e.port });
}

export class Peer implements Scheduled {
  readonly id: string;
  /** Position in the device's peer list: timers of peers due together run in this order. */
  readonly order: number;
  readonly staticStatic: Uint8Array | null;
  readonly presharedKey: Uint8Array;
  readonly cookies: CookieJar;
  /** Frozen ({@link frozenEndpoint}): replaced when the peer moves, never changed. */
  endpoint: Readonly<UdpEndpoint> | undefined;
  /** Milliseconds; 0 is off. */
  persistentKeepalive: number;

  handshake: Handshake = IDLE;
  /** Outranked or replaced keypairs: still receive, never send. */
  previous: Keypair | null = null;
  /** The keypair we send on. */
  current: Keypair | null = null;
  /** Handshake rounds; crossing handshakes share one (see keypair.ts). */
  round = 0;
  latestTimestamp: Uint8Array | null = null;
  lastInitiationConsumedAt = Number.NEGATIVE_INFINITY;
  lastInitiationSentAt = Number.NEGATIVE_INFINITY;
  lastResponseSentAt = Number.NEGATIVE_INFINITY;
  lastHandshakeAt: number | undefined;

  readonly timers = new TimerTable();
  /** Retransmissions of the current attempt (wireguard-go keeps it with the timers too). */
  handshakeAttempts = 0;
  sentLastMinuteHandshake = false;
  needAnotherKeepalive = false;
  /** Kept by the device's deadline heap. */
  deadline = Number.POSITIVE_INFINITY;
  heapIndex = -1;
  /** Whether the context lists the peer as touched in this call (its timers changed). */
  touched = false;

  /** Plaintext waiting for a keypair; an empty array is a keepalive. */
  staged: Uint8Array[] = [];
  txBytes = 0;
  rxBytes = 0;
  rxMissing = 0;

  constructor(
    readonly publicKey: Uint8Array,
    c: CryptoBackend,
    localPrivate: Uint8Array,
    options: PeerOptions,
    order: number,
  ) {
    this.id = keyToBase64(publicKey);
    this.order = order;
    this.staticStatic = staticStatic(c, localPrivate, publicKey);
    this.presharedKey = options.presharedKey ? options.presharedKey.slice() : ZERO_KEY;
    this.cookies = new CookieJar(c, publicKey);
    this.endpoint = options.endpoint ? frozenEndpoint(options.endpoint) : undefined;
    this.persistentKeepalive = (options.persistentKeepaliveSeconds ?? 0) * 1000;
  }

  /** Our initiations awaiting a response, newest first. */
  get pendings(): readonly PendingInitiation[] {
    return pendingsOf(this.handshake);
  }

  /** The responder keypair awaiting key confirmation. */
  get next(): Keypair | null {
    return nextOf(this.handshake);
  }
}
