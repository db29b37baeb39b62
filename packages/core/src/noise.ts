/**
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it, as pure functions over a crypto backend.
 * No state lives here: each step takes the handshake state it continues and returns the next one,
 * so the device decides what to keep (and for how long) and tests can drive any vector through it.
 */
import type { CryptoBackend } from "./crypto/types.js";
import { kdf1, kdf2, kdf3 } from "./kdf.js";

const utf8 = (text: string) => new TextEncoder().encode(text);

export const CONSTRUCTION = utf8("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
/** WireGuard's Noise prologue. */
export const IDENTIFIER = utf8("WireGuard v1 zx2c4 Jason@zx2c4.com");
export const LABEL_MAC1 = utf8("mac1----");
export const LABEL_COOKIE = utf8("cookie--");
const EMPTY = new Uint8Array(0);
export const ZERO_KEY = new Uint8Array(32);

/** Chaining key and handshake hash after some prefix of the handshake. */
export interface SymmetricState {
  chainKey: Uint8Array;
  hash: Uint8Array;
}

function isZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!;
  return acc === 0;
}

/** X25519 that refuses low-order results, as wireguard-go and the kernel do. */
function dh(c: CryptoBackend, privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  const shared = c.x25519(privateKey, publicKey);
  return isZero(shared) ? null : shared;
}

/** Static-static DH a device precomputes per peer; null for a low-order peer key. */
export function staticStatic(
  c: CryptoBackend,
  localPrivate: Uint8Array,
  remotePublic: Uint8Array,
): Uint8Array | null {
  return dh(c, localPrivate, remotePublic);
}

/** State before the first message: ck = HASH(name), h = HASH(HASH(ck ‖ prologue) ‖ responder static). */
export function initialState(
  c: CryptoBackend,
  responderStatic: Uint8Array,
  prologue: Uint8Array = IDENTIFIER,
): SymmetricState {
  const chainKey = c.hash(CONSTRUCTION);
  const hash = c.hash(c.hash(chainKey, prologue), responderStatic);
  return { chainKey, hash };
}

export interface InitiationInput {
  localStaticPublic: Uint8Array;
  /** DH(local static private, remote static public), precomputed per peer. */
  staticStatic: Uint8Array;
  remoteStaticPublic: Uint8Array;
  ephemeralPrivate: Uint8Array;
  /** 12-byte TAI64N in WireGuard. */
  payload: Uint8Array;
  prologue?: Uint8Array;
}

export interface InitiationOutput {
  ephemeralPublic: Uint8Array;
  encryptedStatic: Uint8Array;
  encryptedPayload: Uint8Array;
  state: SymmetricState;
}

/** Initiator, message 1: e, es, s, ss, payload. Null only if the responder's key is low order. */
export function createInitiation(
  c: CryptoBackend,
  input: InitiationInput,
): InitiationOutput | null {
  let { chainKey, hash } = initialState(c, input.remoteStaticPublic, input.prologue);
  const ephemeralPublic = c.x25519Public(input.ephemeralPrivate);
  hash = c.hash(hash, ephemeralPublic);
  chainKey = kdf1(c, chainKey, ephemeralPublic);
  const es = dh(c, input.ephemeralPrivate, input.remoteStaticPublic);
  if (es === null) return null;
  let key: Uint8Array;
  [chainKey, key] = kdf2(c, chainKey, es);
  const encryptedStatic = c.seal(key, 0n, input.localStaticPublic, hash);
  hash = c.hash(hash, encryptedStatic);
  [chainKey, key] = kdf2(c, chainKey, input.staticStatic);
  const encryptedPayload = c.seal(key, 0n, input.payload, hash);
  hash = c.hash(hash, encryptedPayload);
  key.fill(0);
  return { ephemeralPublic, encryptedStatic, encryptedPayload, state: { chainKey, hash } };
}

export interface ConsumedInitiation {
  remoteStatic: Uint8Array;
  remoteEphemeral: Uint8Array;
  payload: Uint8Array;
  state: SymmetricState;
}

/**
 * Responder, message 1. `staticStaticFor` returns the precomputed DH with the initiator's static key
 * once it is decrypted, or null when that key belongs to no known peer. Null when anything fails.
 */
export function consumeInitiation(
  c: CryptoBackend,
  input: {
    localStaticPrivate: Uint8Array;
    localStaticPublic: Uint8Array;
    ephemeralPublic: Uint8Array;
    encryptedStatic: Uint8Array;
    encryptedPayload: Uint8Array;
    staticStaticFor: (remoteStatic: Uint8Array) => Uint8Array | null;
    prologue?: Uint8Array;
  },
): ConsumedInitiation | null {
  let { chainKey, hash } = initialState(c, input.localStaticPublic, input.prologue);
  const remoteEphemeral = input.ephemeralPublic.slice();
  hash = c.hash(hash, remoteEphemeral);
  chainKey = kdf1(c, chainKey, remoteEphemeral);
  const es = dh(c, input.localStaticPrivate, remoteEphemeral);
  if (es === null) return null;
  let key: Uint8Array;
  [chainKey, key] = kdf2(c, chainKey, es);
  const remoteStatic = c.open(key, 0n, input.encryptedStatic, hash);
  if (remoteStatic === null) return null;
  hash = c.hash(hash, input.encryptedStatic);
  const ss = input.staticStaticFor(remoteStatic);
  if (ss === null) return null;
  [chainKey, key] = kdf2(c, chainKey, ss);
  const payload = c.open(key, 0n, input.encryptedPayload, hash);
  key.fill(0);
  if (payload === null) return null;
  hash = c.hash(hash, input.encryptedPayload);
  return { remoteStatic, remoteEphemeral, payload, state: { chainKey, hash } };
}

export interface ResponseOutput {
  ephemeralPublic: Uint8Array;
  encryptedPayload: Uint8Array;
  state: SymmetricState;
}

/** Responder, message 2: e, ee, se, psk, payload. Null if a DH result is low order. */
export function createResponse(
  c: CryptoBackend,
  input: {
    state: SymmetricState;
    remoteEphemeral: Uint8Array;
    remoteStatic: Uint8Array;
    ephemeralPrivate: Uint8Array;
    presharedKey: Uint8Array;
    payload?: Uint8Array;
  },
): ResponseOutput | null {
  let { chainKey, hash } = input.state;
  const ephemeralPublic = c.x25519Public(input.ephemeralPrivate);
  hash = c.hash(hash, ephemeralPublic);
  chainKey = kdf1(c, chainKey, ephemeralPublic);
  const ee = dh(c, input.ephemeralPrivate, input.remoteEphemeral);
  const se = dh(c, input.ephemeralPrivate, input.remoteStatic);
  if (ee === null || se === null) return null;
  chainKey = kdf1(c, chainKey, ee);
  chainKey = kdf1(c, chainKey, se);
  const [ck, tau, key] = kdf3(c, chainKey, input.presharedKey);
  hash = c.hash(hash, tau);
  const encryptedPayload = c.seal(key, 0n, input.payload ?? EMPTY, hash);
  hash = c.hash(hash, encryptedPayload);
  key.fill(0);
  tau.fill(0);
  return { ephemeralPublic, encryptedPayload, state: { chainKey: ck, hash } };
}

/** Initiator, message 2. Null when the response does not authenticate. */
export function consumeResponse(
  c: CryptoBackend,
  input: {
    state: SymmetricState;
    localEphemeralPrivate: Uint8Array;
    localStaticPrivate: Uint8Array;
    ephemeralPublic: Uint8Array;
    encryptedPayload: Uint8Array;
    presharedKey: Uint8Array;
  },
): { payload: Uint8Array; state: SymmetricState } | null {
  let { chainKey, hash } = input.state;
  hash = c.hash(hash, input.ephemeralPublic);
  chainKey = kdf1(c, chainKey, input.ephemeralPublic);
  const ee = dh(c, input.localEphemeralPrivate, input.ephemeralPublic);
  const se = dh(c, input.localStaticPrivate, input.ephemeralPublic);
  if (ee === null || se === null) return null;
  chainKey = kdf1(c, chainKey, ee);
  chainKey = kdf1(c, chainKey, se);
  const [ck, tau, key] = kdf3(c, chainKey, input.presharedKey);
  hash = c.hash(hash, tau);
  const payload = c.open(key, 0n, input.encryptedPayload, hash);
  key.fill(0);
  tau.fill(0);
  if (payload === null) return null;
  hash = c.hash(hash, input.encryptedPayload);
  return { payload, state: { chainKey: ck, hash } };
}

/** Transport keys: [initiator→responder, responder→initiator]. */
export function splitKeys(c: CryptoBackend, chainKey: Uint8Array): [Uint8Array, Uint8Array] {
  return kdf2(c, chainKey, EMPTY);
}

/** Key for mac1 of messages sent to the holder of `staticPublic`. */
export function mac1Key(c: CryptoBackend, staticPublic: Uint8Array): Uint8Array {
  return c.hash(LABEL_MAC1, staticPublic);
}

/** Key that encrypts cookie replies from the holder of `staticPublic`. */
export function cookieKey(c: CryptoBackend, staticPublic: Uint8Array): Uint8Array {
  return c.hash(LABEL_COOKIE, staticPublic);
}

/** Writes mac1 (and mac2 when a cookie is given) into a handshake message in place. */
export function writeMacs(
  c: CryptoBackend,
  message: Uint8Array,
  mac1KeyOfReceiver: Uint8Array,
  cookie: Uint8Array | null,
): void {
  const macOffset = message.length - 32;
  const mac1 = c.mac(mac1KeyOfReceiver, message.subarray(0, macOffset));
  message.set(mac1, macOffset);
  if (cookie !== null) {
    message.set(c.mac(cookie, message.subarray(0, macOffset + 16)), macOffset + 16);
  } else {
    message.fill(0, macOffset + 16);
  }
}

function equal16(a: Uint8Array, b: Uint8Array): boolean {
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Whether a received handshake message carries a valid mac1 for us (constant time compare). */
export function verifyMac1(c: CryptoBackend, message: Uint8Array, ourMac1Key: Uint8Array): boolean {
  const macOffset = message.length - 32;
  return equal16(c.mac(ourMac1Key, message.subarray(0, macOffset)), message.subarray(macOffset));
}

/** Whether a received handshake message carries mac2 made with `cookie`. */
export function verifyMac2(c: CryptoBackend, message: Uint8Array, cookie: Uint8Array): boolean {
  const macOffset = message.length - 16;
  return equal16(c.mac(cookie, message.subarray(0, macOffset)), message.subarray(macOffset));
}
