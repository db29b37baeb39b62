/**
 * A model of wireguard-go's per-peer handshake machine (device/noise-protocol.go, receive.go,
 * send.go, timers.go of wireguard-go 0.0.2022x), sans-IO and in virtual time, for one peer of a
 * two-peer conversation. What it keeps faithfully:
 * - ONE handshake slot per peer: Zeroed / InitiationCreated / InitiationConsumed / ResponseCreated /
 *   ResponseConsumed, and the index table that maps our pending initiation's index to it;
 * - CreateMessageResponse deletes our pending initiation's index (a crossing initiation loses it);
 * - ConsumeMessageResponse checks InitiationCreated under a read lock and commits under a separate
 *   write lock without re-checking; BeginSymmetricSession checks the state again;
 * - `lastSentHandshake` suppression (no initiation within REKEY_TIMEOUT of the last handshake message
 *   sent, responses included), the retransmit timer (5 s + jitter), keepalive / new-handshake timers,
 *   key confirmation (a responder keypair waits in `next` until data arrives on it).
 * The handshake goroutines are modelled as jobs split into their locked sections (`initiationJob`,
 * `responseJob`), so two of them can be interleaved step by step, as wireguard-go's parallel
 * RoutineHandshake workers may do. `receive()` runs a job's steps back to back.
 */
import {
  AntiReplayWindow,
  type CryptoBackend,
  compareTai64n,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  decodeMessage,
  type Entropy,
  encodeInitiation,
  encodeResponse,
  encodeTransportData,
  mac1Key,
  nobleCrypto,
  type SymmetricState,
  splitKeys,
  staticStatic,
  tai64n,
  writeMacs,
} from "@wiregate/core";

export const GO_REKEY_TIMEOUT = 5_000;
const KEEPALIVE_TIMEOUT = 10_000;
const REKEY_AFTER_TIME = 120_000;
const REJECT_AFTER_TIME = 180_000;
const MAX_TIMER_HANDSHAKES = 18;
const HANDSHAKE_INITIATION_RATE = 20;
const EMPTY = new Uint8Array(0);
const ZERO32 = new Uint8Array(32);

export type GoHandshakeState =
  | "Zeroed"
  | "InitiationCreated"
  | "InitiationConsumed"
  | "ResponseCreated"
  | "ResponseConsumed";

export interface GoLogLine {
  time: number;
  level: "debug" | "error";
  text: string;
}

export interface GoPeerOptions {
  name: string;
  privateKey: Uint8Array;
  peerPublicKey: Uint8Array;
  presharedKey?: Uint8Array;
  /** Ephemeral keys, indices and (unless `retransmitJitter` is given) jitter. */
  entropy: Entropy;
  /** Jitter in ms (0–333) for the retransmit timer; default from `entropy`. */
  retransmitJitter?: () => number;
  wallClock: (now: number) => bigint;
  crypto?: CryptoBackend;
}

interface GoKeypair {
  localIndex: number;
  remoteIndex: number;
  send: Uint8Array;
  recv: Uint8Array;
  sendNonce: bigint;
  created: number;
  isInitiator: boolean;
  antiReplay: AntiReplayWindow;
}

export interface JobStep {
  label: string;
  run(): void;
}

export interface HandshakeJob {
  kind: "initiation" | "response";
  steps: JobStep[];
}

type IndexEntry = { handshake: true } | { keypair: GoKeypair };

export class WireGuardGoPeer {
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly #c: CryptoBackend;
  readonly #o: GoPeerOptions;
  readonly #private: Uint8Array;
  readonly #peer: Uint8Array;
  readonly #psk: Uint8Array;
  readonly #ss: Uint8Array | null;
  readonly #mac1ToPeer: Uint8Array;
  // The single handshake slot.
  state: GoHandshakeState = "Zeroed";
  #hs: SymmetricState = { chainKey: ZERO32, hash: ZERO32 };
  #localIndex = 0;
  #remoteIndex = 0;
  #localEphemeral: Uint8Array = ZERO32;
  #remoteEphemeral: Uint8Array = ZERO32;
  #lastTimestamp: Uint8Array = new Uint8Array(12);
  #lastInitiationConsumption = Number.NEGATIVE_INFINITY;
  #lastSentHandshake = Number.NEGATIVE_INFINITY;
  readonly indexTable = new Map<number, IndexEntry>();
  previous: GoKeypair | null = null;
  current: GoKeypair | null = null;
  next: GoKeypair | null = null;
  #staged: Uint8Array[] = [];
  #timers: { retransmit?: number; keepalive?: number; newHandshake?: number } = {};
  #attempts = 0;
  #needAnotherKeepalive = false;
  #now = 0;
  #out: Uint8Array[] = [];
  #delivered: Uint8Array[] = [];
  readonly log: GoLogLine[] = [];
  /** Authenticated transport messages received (keepalives included). */
  received = 0;

  constructor(options: GoPeerOptions) {
    this.#o = options;
    this.name = options.name;
    this.#c = options.crypto ?? nobleCrypto;
    this.#private = options.privateKey.slice();
    this.publicKey = this.#c.x25519Public(this.#private);
    this.#peer = options.peerPublicKey.slice();
    this.#psk = options.presharedKey ?? ZERO32;
    this.#ss = staticStatic(this.#c, this.#private, this.#peer);
    this.#mac1ToPeer = mac1Key(this.#c, this.#peer);
  }

  #debug(text: string): void {
    this.log.push({ time: this.#now, level: "debug", text: `${this.name}: ${text}` });
  }
  #error(text: string): void {
    this.log.push({ time: this.#now, level: "error", text: `${this.name}: ${text}` });
  }

  /** Datagrams sent and packets delivered since the last call. */
  take(): { datagrams: Uint8Array[]; delivered: Uint8Array[] } {
    const result = { datagrams: this.#out, delivered: this.#delivered };
    this.#out = [];
    this.#delivered = [];
    return result;
  }

  deadline(): number | undefined {
    const times = Object.values(this.#timers).filter((t): t is number => t !== undefined);
    return times.length ? Math.min(...times) : undefined;
  }

  setTime(now: number): void {
    this.#now = now;
  }

  // ------------------------------------------------------------- sending

  /** The application sends a packet to the peer. */
  send(now: number, packet: Uint8Array): void {
    this.#now = now;
    this.#staged.push(packet.slice());
    this.#sendStaged();
  }

  #newIndex(entry: IndexEntry): number {
    for (;;) {
      const index = this.#o.entropy.index();
      if (!this.indexTable.has(index)) {
        this.indexTable.set(index, entry);
        return index;
      }
    }
  }

  /** The retransmit timer's jitter; the new-handshake timer draws its own from `entropy`. */
  #retransmitJitter(): number {
    return this.#o.retransmitJitter?.() ?? this.#o.entropy.jitter();
  }

  #sendStaged(): void {
    if (this.#staged.length === 0) return;
    const k = this.current;
    if (!k || this.#now - k.created >= REJECT_AFTER_TIME) {
      this.sendHandshakeInitiation(false);
      return;
    }
    const staged = this.#staged;
    this.#staged = [];
    for (const packet of staged) {
      const padded =
        packet.length % 16 === 0
          ? packet
          : new Uint8Array(packet.length + 16 - (packet.length % 16));
      if (padded !== packet) padded.set(packet);
      const counter = k.sendNonce++;
      this.#out.push(
        encodeTransportData(k.remoteIndex, counter, this.#c.seal(k.send, counter, padded, EMPTY)),
      );
      if (packet.length === 0) this.#debug("Sending keepalive packet");
      this.#timers.keepalive = undefined; // timersAnyAuthenticatedPacketSent
      if (packet.length > 0 && this.#timers.newHandshake === undefined) {
        this.#timers.newHandshake =
          this.#now + KEEPALIVE_TIMEOUT + GO_REKEY_TIMEOUT + this.#o.entropy.jitter();
      }
    }
    if (k.isInitiator && this.#now - k.created > REKEY_AFTER_TIME)
      this.sendHandshakeInitiation(false);
  }

  #sendKeepalive(): void {
    if (this.#staged.length === 0) this.#staged.push(EMPTY);
    this.#sendStaged();
  }

  /** SendHandshakeInitiation: refused within REKEY_TIMEOUT of the last handshake message sent. */
  sendHandshakeInitiation(isRetry: boolean): void {
    if (!isRetry) this.#attempts = 0;
    if (this.#now - this.#lastSentHandshake < GO_REKEY_TIMEOUT) return;
    this.#lastSentHandshake = this.#now;
    this.#debug("Sending handshake initiation");
    const message = this.createMessageInitiation();
    if (!message) return;
    this.#out.push(message);
    this.#timers.retransmit = this.#now + GO_REKEY_TIMEOUT + this.#retransmitJitter();
  }

  /** CreateMessageInitiation (one write-locked section). */
  createMessageInitiation(): Uint8Array | null {
    if (!this.#ss) return null;
    const ephemeral = this.#o.entropy.ephemeral();
    const init = createInitiation(this.#c, {
      localStaticPublic: this.publicKey,
      staticStatic: this.#ss,
      remoteStaticPublic: this.#peer,
      ephemeralPrivate: ephemeral,
      payload: tai64n(this.#o.wallClock(this.#now)),
    });
    if (!init) return null;
    this.#localEphemeral = ephemeral;
    this.indexTable.delete(this.#localIndex);
    const sender = this.#newIndex({ handshake: true });
    this.#localIndex = sender;
    this.#hs = init.state;
    this.state = "InitiationCreated";
    const bytes = encodeInitiation({
      sender,
      ephemeral: init.ephemeralPublic,
      encryptedStatic: init.encryptedStatic,
      encryptedTimestamp: init.encryptedPayload,
    });
    writeMacs(this.#c, bytes, this.#mac1ToPeer, null);
    return bytes;
  }

  // ------------------------------------------------------------- receiving

  /** A datagram from the peer, processed as one handshake worker or the receive path would. */
  receive(now: number, bytes: Uint8Array): void {
    this.#now = now;
    const type = bytes[0];
    if (type === 1) for (const step of this.initiationJob(bytes).steps) step.run();
    else if (type === 2) for (const step of this.responseJob(bytes).steps) step.run();
    else if (type === 4) this.#transport(bytes);
  }

  /** RoutineHandshake for an initiation, split at its lock boundaries. */
  initiationJob(bytes: Uint8Array): HandshakeJob {
    let consumed: ReturnType<typeof consumeInitiation> = null;
    let rejected = false;
    let response: Uint8Array | null = null;
    let failed = false;
    const decoded = decodeMessage(bytes);
    return {
      kind: "initiation",
      steps: [
        {
          label: "ConsumeMessageInitiation: decrypt, replay/flood check (read lock)",
          run: () => {
            if (!decoded.ok || decoded.message.type !== 1) {
              rejected = true;
              return;
            }
            const m = decoded.message;
            consumed = consumeInitiation(this.#c, {
              localStaticPrivate: this.#private,
              localStaticPublic: this.publicKey,
              ephemeralPublic: m.ephemeral,
              encryptedStatic: m.encryptedStatic,
              encryptedPayload: m.encryptedTimestamp,
              staticStaticFor: (remote) => (equal(remote, this.#peer) ? this.#ss : null),
            });
            const replay =
              consumed !== null && compareTai64n(consumed.payload, this.#lastTimestamp) <= 0;
            const flood = this.#now - this.#lastInitiationConsumption <= HANDSHAKE_INITIATION_RATE;
            if (!consumed || replay || flood) {
              rejected = true;
              this.#debug(
                `Received invalid initiation message${replay ? " (replayed timestamp)" : flood ? " (flood)" : ""}`,
              );
            }
          },
        },
        {
          label: "ConsumeMessageInitiation: commit InitiationConsumed (write lock)",
          run: () => {
            if (rejected || !consumed || !decoded.ok || decoded.message.type !== 1) return;
            this.#hs = consumed.state;
            this.#remoteIndex = decoded.message.sender;
            this.#remoteEphemeral = consumed.remoteEphemeral;
            if (compareTai64n(consumed.payload, this.#lastTimestamp) > 0)
              this.#lastTimestamp = consumed.payload;
            this.#lastInitiationConsumption = this.#now;
            this.state = "InitiationConsumed";
            this.#timers.newHandshake = undefined; // timersAnyAuthenticatedPacketReceived
            this.#debug("Received handshake initiation");
          },
        },
        {
          label: "CreateMessageResponse (write lock)",
          run: () => {
            if (rejected) return;
            this.#lastSentHandshake = this.#now;
            this.#debug("Sending handshake response");
            if (this.state !== "InitiationConsumed") {
              failed = true;
              this.#error(
                "Failed to create response message: handshake initiation must be consumed first",
              );
              return;
            }
            this.indexTable.delete(this.#localIndex);
            this.#localIndex = this.#newIndex({ handshake: true });
            const ephemeral = this.#o.entropy.ephemeral();
            const r = createResponse(this.#c, {
              state: this.#hs,
              remoteEphemeral: this.#remoteEphemeral,
              remoteStatic: this.#peer,
              ephemeralPrivate: ephemeral,
              presharedKey: this.#psk,
            });
            if (!r) {
              failed = true;
              return;
            }
            this.#localEphemeral = ephemeral;
            this.#hs = r.state;
            this.state = "ResponseCreated";
            response = encodeResponse({
              sender: this.#localIndex,
              receiver: this.#remoteIndex,
              ephemeral: r.ephemeralPublic,
              encryptedNothing: r.encryptedPayload,
            });
            writeMacs(this.#c, response, this.#mac1ToPeer, null);
          },
        },
        {
          label: "BeginSymmetricSession + send response (write lock)",
          run: () => {
            if (rejected || failed) return;
            if (!this.#beginSymmetricSession()) return;
            this.#timers.keepalive = undefined; // timersAnyAuthenticatedPacketSent
            if (response) this.#out.push(response);
          },
        },
      ],
    };
  }

  /** RoutineHandshake for a response, split at its lock boundaries. */
  responseJob(bytes: Uint8Array): HandshakeJob {
    let result: { payload: Uint8Array; state: SymmetricState } | null = null;
    let ok = false;
    const decoded = decodeMessage(bytes);
    return {
      kind: "response",
      steps: [
        {
          label:
            "ConsumeMessageResponse: index lookup, check InitiationCreated, decrypt (read lock)",
          run: () => {
            if (!decoded.ok || decoded.message.type !== 2) return;
            const m = decoded.message;
            const entry = this.indexTable.get(m.receiver);
            if (entry && "handshake" in entry && this.state === "InitiationCreated") {
              result = consumeResponse(this.#c, {
                state: this.#hs,
                localEphemeralPrivate: this.#localEphemeral,
                localStaticPrivate: this.#private,
                ephemeralPublic: m.ephemeral,
                encryptedPayload: m.encryptedNothing,
                presharedKey: this.#psk,
              });
              ok = result !== null;
            }
            if (!ok) this.#debug("Received invalid response message");
          },
        },
        {
          label: "ConsumeMessageResponse: commit ResponseConsumed (write lock, no re-check)",
          run: () => {
            if (!ok || !result || !decoded.ok || decoded.message.type !== 2) return;
            this.#hs = result.state;
            this.#remoteIndex = decoded.message.sender;
            this.state = "ResponseConsumed";
            this.#timers.newHandshake = undefined;
            this.#debug("Received handshake response");
          },
        },
        {
          label: "BeginSymmetricSession, then keepalive (write lock)",
          run: () => {
            if (!ok) return;
            if (!this.#beginSymmetricSession()) return;
            this.#handshakeComplete();
            this.#sendKeepalive();
          },
        },
      ],
    };
  }

  #beginSymmetricSession(): boolean {
    let isInitiator: boolean;
    if (this.state === "ResponseConsumed") isInitiator = true;
    else if (this.state === "ResponseCreated") isInitiator = false;
    else {
      this.#error(`Failed to derive keypair: invalid state for keypair derivation: ${this.state}`);
      return false;
    }
    const [i2r, r2i] = splitKeys(this.#c, this.#hs.chainKey);
    const keypair: GoKeypair = {
      localIndex: this.#localIndex,
      remoteIndex: this.#remoteIndex,
      send: isInitiator ? i2r : r2i,
      recv: isInitiator ? r2i : i2r,
      sendNonce: 0n,
      created: this.#now,
      isInitiator,
      antiReplay: new AntiReplayWindow(),
    };
    this.#hs = { chainKey: ZERO32, hash: ZERO32 };
    this.#localEphemeral = ZERO32;
    this.state = "Zeroed";
    this.indexTable.set(this.#localIndex, { keypair });
    this.#localIndex = 0;
    const drop = (k: GoKeypair | null) => {
      if (k) this.indexTable.delete(k.localIndex);
    };
    if (isInitiator) {
      if (this.next) {
        this.previous && drop(this.previous);
        this.previous = this.next;
        this.next = null;
        drop(this.current);
      } else {
        drop(this.previous);
        this.previous = this.current;
      }
      this.current = keypair;
    } else {
      drop(this.next);
      this.next = keypair;
      drop(this.previous);
      this.previous = null;
    }
    return true;
  }

  #handshakeComplete(): void {
    this.#timers.retransmit = undefined;
    this.#attempts = 0;
  }

  #transport(bytes: Uint8Array): void {
    const decoded = decodeMessage(bytes);
    if (!decoded.ok || decoded.message.type !== 4) return;
    const m = decoded.message;
    const entry = this.indexTable.get(m.receiver);
    if (!entry || !("keypair" in entry)) return;
    const k = entry.keypair;
    if (this.#now - k.created >= REJECT_AFTER_TIME) return;
    const plain = this.#c.open(k.recv, m.counter, m.encrypted, EMPTY);
    if (!plain || !k.antiReplay.accept(m.counter)) return;
    this.received++;
    if (k === this.next) {
      if (this.previous) this.indexTable.delete(this.previous.localIndex);
      this.previous = this.current;
      this.current = k;
      this.next = null;
      this.#handshakeComplete();
      this.#sendStaged();
    }
    this.#timers.newHandshake = undefined;
    if (plain.length === 0) {
      this.#debug("Receiving keepalive packet");
      return;
    }
    if (this.#timers.keepalive === undefined)
      this.#timers.keepalive = this.#now + KEEPALIVE_TIMEOUT;
    else this.#needAnotherKeepalive = true;
    this.#delivered.push(plain);
  }

  // ------------------------------------------------------------- timers

  tick(now: number): void {
    this.#now = now;
    for (let guard = 0; guard < 8; guard++) {
      const t = this.#timers;
      if (t.retransmit !== undefined && t.retransmit <= now) {
        t.retransmit = undefined;
        if (this.#attempts > MAX_TIMER_HANDSHAKES) {
          this.#debug(
            `Handshake did not complete after ${MAX_TIMER_HANDSHAKES + 2} attempts, giving up`,
          );
          continue;
        }
        this.#attempts++;
        this.#debug(
          `Handshake did not complete after 5 seconds, retrying (try ${this.#attempts + 1})`,
        );
        this.sendHandshakeInitiation(true);
      } else if (t.keepalive !== undefined && t.keepalive <= now) {
        t.keepalive = undefined;
        this.#sendKeepalive();
        if (this.#needAnotherKeepalive) {
          this.#needAnotherKeepalive = false;
          t.keepalive = now + KEEPALIVE_TIMEOUT;
        }
      } else if (t.newHandshake !== undefined && t.newHandshake <= now) {
        t.newHandshake = undefined;
        this.#debug(
          `Retrying handshake because we stopped hearing back after ${(KEEPALIVE_TIMEOUT + GO_REKEY_TIMEOUT) / 1000} seconds`,
        );
        this.sendHandshakeInitiation(false);
      } else return;
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
