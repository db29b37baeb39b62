/**
 * A model of one wireguard-go peer of a two-peer conversation (device/send.go, receive.go of
 * wireguard-go 0.0.2022x), sans-IO and in virtual time. This is the glue: sending staged packets
 * (an initiation first when there is no usable keypair), the handshake workers, and the transport
 * receive path with key confirmation (a responder keypair waits in `next` until data arrives on
 * it). It keeps `lastSentHandshake` suppression: no initiation within REKEY_TIMEOUT of the last
 * handshake message sent, responses included. The handshake slot is `wireguard-go-handshake.ts`,
 * the keypair slots `wireguard-go-keypairs.ts`, the timers `wireguard-go-timers.ts`.
 * The handshake goroutines are modelled as jobs split into their locked sections (`initiationJob`,
 * `responseJob`), so two of them can be interleaved step by step, as wireguard-go's parallel
 * RoutineHandshake workers may do. `receive()` runs a job's steps back to back.
 */
import {
  type CryptoBackend,
  decodeMessage,
  type Entropy,
  encodeTransportData,
  nobleCrypto,
} from "@wiregate/core";
import {
  GoHandshake,
  type GoHandshakeState,
  type InitiationCheck,
  type ResponseCheck,
} from "./wireguard-go-handshake.js";
import { type GoKeypair, GoKeypairs, type IndexEntry } from "./wireguard-go-keypairs.js";
import { GO_REKEY_TIMEOUT, GoTimers } from "./wireguard-go-timers.js";

const REKEY_AFTER_TIME = 120_000;
const REJECT_AFTER_TIME = 180_000;
const EMPTY = new Uint8Array(0);

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

export interface JobStep {
  label: string;
  run(): void;
}

export interface HandshakeJob {
  kind: "initiation" | "response";
  steps: JobStep[];
}

export class WireGuardGoPeer {
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly #c: CryptoBackend;
  readonly #keypairs: GoKeypairs;
  readonly #handshake: GoHandshake;
  readonly #timers: GoTimers;
  #lastSentHandshake = Number.NEGATIVE_INFINITY;
  #staged: Uint8Array[] = [];
  #now = 0;
  #out: Uint8Array[] = [];
  #delivered: Uint8Array[] = [];
  readonly log: GoLogLine[] = [];
  /** Authenticated transport messages received (keepalives included). */
  received = 0;

  constructor(options: GoPeerOptions) {
    this.name = options.name;
    this.#c = options.crypto ?? nobleCrypto;
    this.#keypairs = new GoKeypairs(options.entropy);
    this.#handshake = new GoHandshake({ ...options, crypto: this.#c }, this.#keypairs);
    this.publicKey = this.#handshake.publicKey;
    this.#timers = new GoTimers(
      {
        retransmit: () => options.retransmitJitter?.() ?? options.entropy.jitter(),
        newHandshake: () => options.entropy.jitter(),
      },
      {
        sendHandshakeInitiation: (isRetry) => this.sendHandshakeInitiation(isRetry),
        sendKeepalive: () => this.#sendKeepalive(),
        debug: (text) => this.#debug(text),
      },
    );
  }

  /** The single handshake slot's state. */
  get state(): GoHandshakeState {
    return this.#handshake.state;
  }
  get indexTable(): Map<number, IndexEntry> {
    return this.#keypairs.indexTable;
  }
  get previous(): GoKeypair | null {
    return this.#keypairs.previous;
  }
  get current(): GoKeypair | null {
    return this.#keypairs.current;
  }
  get next(): GoKeypair | null {
    return this.#keypairs.next;
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
    return this.#timers.deadline();
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

  #sendStaged(): void {
    if (this.#staged.length === 0) return;
    const k = this.#keypairs.current;
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
      this.#timers.anyAuthenticatedPacketSent();
      if (packet.length > 0) this.#timers.dataSent(this.#now);
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
    if (!isRetry) this.#timers.resetAttempts();
    if (this.#now - this.#lastSentHandshake < GO_REKEY_TIMEOUT) return;
    this.#lastSentHandshake = this.#now;
    this.#debug("Sending handshake initiation");
    const message = this.createMessageInitiation();
    if (!message) return;
    this.#out.push(message);
    this.#timers.handshakeInitiated(this.#now);
  }

  /** CreateMessageInitiation (one write-locked section). */
  createMessageInitiation(): Uint8Array | null {
    return this.#handshake.createInitiation(this.#now);
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
    const decoded = decodeMessage(bytes);
    const m = decoded.ok && decoded.message.type === 1 ? decoded.message : null;
    let check: InitiationCheck | null = null;
    let response: Uint8Array | null = null;
    const hs = this.#handshake;
    return {
      kind: "initiation",
      steps: [
        {
          label: "ConsumeMessageInitiation: decrypt, replay/flood check (read lock)",
          run: () => {
            if (!m) return;
            check = hs.checkInitiation(this.#now, m);
            if (!check.ok) {
              const why = check.why === "invalid" ? "" : ` (${check.why})`;
              this.#debug(`Received invalid initiation message${why}`);
            }
          },
        },
        {
          label: "ConsumeMessageInitiation: commit InitiationConsumed (write lock)",
          run: () => {
            if (!m || !check?.ok) return;
            hs.commitInitiation(this.#now, m, check.consumed);
            this.#timers.anyAuthenticatedPacketReceived();
            this.#debug("Received handshake initiation");
          },
        },
        {
          label: "CreateMessageResponse (write lock)",
          run: () => {
            if (!check?.ok) return;
            this.#lastSentHandshake = this.#now;
            this.#debug("Sending handshake response");
            const created = hs.createResponse();
            if ("response" in created) response = created.response;
            else if (created.error)
              this.#error(`Failed to create response message: ${created.error}`);
          },
        },
        {
          label: "BeginSymmetricSession + send response (write lock)",
          run: () => {
            if (!response) return;
            if (!this.#beginSymmetricSession()) return;
            this.#timers.anyAuthenticatedPacketSent();
            this.#out.push(response);
          },
        },
      ],
    };
  }

  /** RoutineHandshake for a response, split at its lock boundaries. */
  responseJob(bytes: Uint8Array): HandshakeJob {
    const decoded = decodeMessage(bytes);
    const m = decoded.ok && decoded.message.type === 2 ? decoded.message : null;
    let checked: ResponseCheck = null;
    const hs = this.#handshake;
    return {
      kind: "response",
      steps: [
        {
          label:
            "ConsumeMessageResponse: index lookup, check InitiationCreated, decrypt (read lock)",
          run: () => {
            if (!m) return;
            checked = hs.checkResponse(m);
            if (!checked) this.#debug("Received invalid response message");
          },
        },
        {
          label: "ConsumeMessageResponse: commit ResponseConsumed (write lock, no re-check)",
          run: () => {
            if (!m || !checked) return;
            hs.commitResponse(m, checked);
            this.#timers.anyAuthenticatedPacketReceived();
            this.#debug("Received handshake response");
          },
        },
        {
          label: "BeginSymmetricSession, then keepalive (write lock)",
          run: () => {
            if (!checked) return;
            if (!this.#beginSymmetricSession()) return;
            this.#timers.handshakeComplete();
            this.#sendKeepalive();
          },
        },
      ],
    };
  }

  #beginSymmetricSession(): boolean {
    const error = this.#handshake.beginSymmetricSession(this.#now);
    if (error) this.#error(`Failed to derive keypair: ${error}`);
    return error === null;
  }

  #transport(bytes: Uint8Array): void {
    const decoded = decodeMessage(bytes);
    if (!decoded.ok || decoded.message.type !== 4) return;
    const m = decoded.message;
    const k = this.#keypairs.keypair(m.receiver);
    if (!k) return;
    if (this.#now - k.created >= REJECT_AFTER_TIME) return;
    const plain = this.#c.open(k.recv, m.counter, m.encrypted, EMPTY);
    if (!plain || !k.antiReplay.accept(m.counter)) return;
    this.received++;
    if (this.#keypairs.confirm(k)) {
      this.#timers.handshakeComplete();
      this.#sendStaged();
    }
    this.#timers.anyAuthenticatedPacketReceived();
    if (plain.length === 0) {
      this.#debug("Receiving keepalive packet");
      return;
    }
    this.#timers.dataReceived(this.#now);
    this.#delivered.push(plain);
  }

  // ------------------------------------------------------------- timers

  tick(now: number): void {
    this.#now = now;
    this.#timers.tick(now);
  }
}
