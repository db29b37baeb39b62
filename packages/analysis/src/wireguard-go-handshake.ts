/**
 * The handshake state machine of one wireguard-go peer, in the model (device/noise-protocol.go):
 * ONE handshake slot (Zeroed / InitiationCreated / InitiationConsumed / ResponseCreated /
 * ResponseConsumed), with each Noise message's creation or consumption cut at wireguard-go's lock
 * boundaries, so that two handshake workers can be interleaved between them:
 * - CreateMessageResponse deletes our pending initiation's index (a crossing initiation loses it);
 * - ConsumeMessageResponse checks InitiationCreated under a read lock and commits under a separate
 *   write lock without re-checking; BeginSymmetricSession checks the state again.
 * Failures come back as the error text wireguard-go's caller logs; this module logs nothing.
 */
import {
  AntiReplayWindow,
  type ConsumedInitiation,
  type CryptoBackend,
  compareTai64n,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  type Entropy,
  encodeInitiation,
  encodeResponse,
  type Initiation,
  mac1Key,
  type Response,
  type SymmetricState,
  splitKeys,
  staticStatic,
  tai64n,
  writeMacs,
} from "@wiregate/core";
import type { GoKeypair, GoKeypairs } from "./wireguard-go-keypairs.js";

const HANDSHAKE_INITIATION_RATE = 20;
const ZERO32 = new Uint8Array(32);

export type GoHandshakeState =
  | "Zeroed"
  | "InitiationCreated"
  | "InitiationConsumed"
  | "ResponseCreated"
  | "ResponseConsumed";

export interface GoHandshakeOptions {
  privateKey: Uint8Array;
  peerPublicKey: Uint8Array;
  presharedKey?: Uint8Array;
  entropy: Entropy;
  wallClock: (now: number) => bigint;
  crypto: CryptoBackend;
}

/** ConsumeMessageInitiation's read-locked part: the decrypted initiation, or why it is refused. */
export type InitiationCheck =
  | { ok: true; consumed: ConsumedInitiation }
  | { ok: false; why: "invalid" | "replayed timestamp" | "flood" };

/** ConsumeMessageResponse's read-locked part: the decrypted response, or null. */
export type ResponseCheck = { payload: Uint8Array; state: SymmetricState } | null;

export class GoHandshake {
  readonly publicKey: Uint8Array;
  state: GoHandshakeState = "Zeroed";
  readonly #c: CryptoBackend;
  readonly #o: GoHandshakeOptions;
  readonly #keypairs: GoKeypairs;
  readonly #private: Uint8Array;
  readonly #peer: Uint8Array;
  readonly #psk: Uint8Array;
  readonly #ss: Uint8Array | null;
  readonly #mac1ToPeer: Uint8Array;
  #hs: SymmetricState = { chainKey: ZERO32, hash: ZERO32 };
  #localIndex = 0;
  #remoteIndex = 0;
  #localEphemeral: Uint8Array = ZERO32;
  #remoteEphemeral: Uint8Array = ZERO32;
  #lastTimestamp: Uint8Array = new Uint8Array(12);
  #lastInitiationConsumption = Number.NEGATIVE_INFINITY;

  constructor(options: GoHandshakeOptions, keypairs: GoKeypairs) {
    this.#o = options;
    this.#c = options.crypto;
    this.#keypairs = keypairs;
    this.#private = options.privateKey.slice();
    this.publicKey = this.#c.x25519Public(this.#private);
    this.#peer = options.peerPublicKey.slice();
    this.#psk = options.presharedKey ?? ZERO32;
    this.#ss = staticStatic(this.#c, this.#private, this.#peer);
    this.#mac1ToPeer = mac1Key(this.#c, this.#peer);
  }

  /** CreateMessageInitiation (one write-locked section); null if our keys cannot make one. */
  createInitiation(now: number): Uint8Array | null {
    if (!this.#ss) return null;
    const ephemeral = this.#o.entropy.ephemeral();
    const init = createInitiation(this.#c, {
      localStaticPublic: this.publicKey,
      staticStatic: this.#ss,
      remoteStaticPublic: this.#peer,
      ephemeralPrivate: ephemeral,
      payload: tai64n(this.#o.wallClock(now)),
    });
    if (!init) return null;
    this.#localEphemeral = ephemeral;
    this.#keypairs.indexTable.delete(this.#localIndex);
    const sender = this.#keypairs.newIndex({ handshake: true });
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

  /** ConsumeMessageInitiation, read lock: decrypt, then the replay and flood checks. */
  checkInitiation(now: number, m: Initiation): InitiationCheck {
    const consumed = consumeInitiation(this.#c, {
      localStaticPrivate: this.#private,
      localStaticPublic: this.publicKey,
      ephemeralPublic: m.ephemeral,
      encryptedStatic: m.encryptedStatic,
      encryptedPayload: m.encryptedTimestamp,
      staticStaticFor: (remote) => (equal(remote, this.#peer) ? this.#ss : null),
    });
    const replay = consumed !== null && compareTai64n(consumed.payload, this.#lastTimestamp) <= 0;
    const flood = now - this.#lastInitiationConsumption <= HANDSHAKE_INITIATION_RATE;
    if (!consumed || replay || flood) {
      return { ok: false, why: replay ? "replayed timestamp" : flood ? "flood" : "invalid" };
    }
    return { ok: true, consumed };
  }

  /** ConsumeMessageInitiation, write lock: commit InitiationConsumed, whatever the state was. */
  commitInitiation(now: number, m: Initiation, consumed: ConsumedInitiation): void {
    this.#hs = consumed.state;
    this.#remoteIndex = m.sender;
    this.#remoteEphemeral = consumed.remoteEphemeral;
    if (compareTai64n(consumed.payload, this.#lastTimestamp) > 0)
      this.#lastTimestamp = consumed.payload;
    this.#lastInitiationConsumption = now;
    this.state = "InitiationConsumed";
  }

  /**
   * CreateMessageResponse (one write-locked section). It replaces our index first: a pending
   * initiation of ours loses its index even when the response then fails.
   */
  createResponse(): { response: Uint8Array } | { error: string | null } {
    if (this.state !== "InitiationConsumed")
      return { error: "handshake initiation must be consumed first" };
    this.#keypairs.indexTable.delete(this.#localIndex);
    this.#localIndex = this.#keypairs.newIndex({ handshake: true });
    const ephemeral = this.#o.entropy.ephemeral();
    const r = createResponse(this.#c, {
      state: this.#hs,
      remoteEphemeral: this.#remoteEphemeral,
      remoteStatic: this.#peer,
      ephemeralPrivate: ephemeral,
      presharedKey: this.#psk,
    });
    if (!r) return { error: null };
    this.#localEphemeral = ephemeral;
    this.#hs = r.state;
    this.state = "ResponseCreated";
    const response = encodeResponse({
      sender: this.#localIndex,
      receiver: this.#remoteIndex,
      ephemeral: r.ephemeralPublic,
      encryptedNothing: r.encryptedPayload,
    });
    writeMacs(this.#c, response, this.#mac1ToPeer, null);
    return { response };
  }

  /** ConsumeMessageResponse, read lock: our pending index and InitiationCreated, then decrypt. */
  checkResponse(m: Response): ResponseCheck {
    if (!this.#keypairs.namesHandshake(m.receiver) || this.state !== "InitiationCreated")
      return null;
    return consumeResponse(this.#c, {
      state: this.#hs,
      localEphemeralPrivate: this.#localEphemeral,
      localStaticPrivate: this.#private,
      ephemeralPublic: m.ephemeral,
      encryptedPayload: m.encryptedNothing,
      presharedKey: this.#psk,
    });
  }

  /** ConsumeMessageResponse, write lock: commit ResponseConsumed without checking again. */
  commitResponse(m: Response, checked: NonNullable<ResponseCheck>): void {
    this.#hs = checked.state;
    this.#remoteIndex = m.sender;
    this.state = "ResponseConsumed";
  }

  /**
   * BeginSymmetricSession: derive the keypair, zero the slot and install the keypair. Null when
   * done; the error when the slot is in neither state a keypair is derived from.
   */
  beginSymmetricSession(now: number): string | null {
    let isInitiator: boolean;
    if (this.state === "ResponseConsumed") isInitiator = true;
    else if (this.state === "ResponseCreated") isInitiator = false;
    else return `invalid state for keypair derivation: ${this.state}`;
    const [i2r, r2i] = splitKeys(this.#c, this.#hs.chainKey);
    const keypair: GoKeypair = {
      localIndex: this.#localIndex,
      remoteIndex: this.#remoteIndex,
      send: isInitiator ? i2r : r2i,
      recv: isInitiator ? r2i : i2r,
      sendNonce: 0n,
      created: now,
      isInitiator,
      antiReplay: new AntiReplayWindow(),
    };
    this.#hs = { chainKey: ZERO32, hash: ZERO32 };
    this.#localEphemeral = ZERO32;
    this.state = "Zeroed";
    this.#localIndex = 0;
    this.#keypairs.install(keypair);
    return null;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
