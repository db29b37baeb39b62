/**
 * Handshake decryption from a key log, as Wireshark does it: an initiation's static key and
 * timestamp, a response's check (wg.handshake_ok) and the transport keys it yields. Either side's
 * private keys are enough (a static private key of the receiver, or the sender's ephemeral one).
 */

import { initialState, kdf1, kdf2, kdf3 } from "@wiregate/core";
import { type EphemeralKey, hexOf, type KeyMaterial, type StaticKey } from "./keys.js";

const EMPTY = new Uint8Array(0);
const ZERO32 = new Uint8Array(32);

/** What the decoder learned of one handshake; the transport keys once a response checked out. */
export interface Handshake {
  responderSkey: StaticKey;
  initiatorEkey: EphemeralKey;
  initiatorSkey: StaticKey | { publicKey: Uint8Array; privateKey: Uint8Array | null } | null;
  timestamp: Uint8Array | null;
  emptyOk: boolean;
  hash: Uint8Array;
  chainKey: Uint8Array;
  initiatorRecv: Uint8Array | null;
  responderRecv: Uint8Array | null;
  responded: boolean;
}

/** The handshake state an initiation starts, when the key log can decrypt any of it. */
export function prepareHandshake(
  keys: KeyMaterial,
  skeyR: StaticKey,
  p: Uint8Array,
): Handshake | null {
  const ephemeralPublic = p.subarray(8, 40);
  let ekeyI = keys.ephemeral(ephemeralPublic);
  if (!skeyR.privateKey && !ekeyI) return null;
  if (!ekeyI) ekeyI = { publicKey: ephemeralPublic.slice(), privateKey: null, psks: [] };
  return {
    responderSkey: skeyR,
    initiatorEkey: ekeyI,
    initiatorSkey: null,
    timestamp: null,
    emptyOk: false,
    hash: ZERO32,
    chainKey: ZERO32,
    initiatorRecv: null,
    responderRecv: null,
    responded: false,
  };
}

/** Decrypts an initiation's static key and timestamp as far as the keys allow (Noise IK, first message). */
export function processInitiation(keys: KeyMaterial, hs: Handshake, p: Uint8Array): void {
  const c = keys.crypto;
  const hasSprivR = hs.responderSkey.privateKey !== null;
  const hasEprivI = hs.initiatorEkey.privateKey !== null;
  if (!hasSprivR && !hasEprivI) return;
  const ephemeral = p.subarray(8, 40);
  const encryptedStatic = p.subarray(40, 88);
  const encryptedTimestamp = p.subarray(88, 116);
  let { chainKey, hash } = initialState(c, hs.responderSkey.publicKey);
  chainKey = kdf1(c, chainKey, ephemeral);
  hash = c.hash(hash, ephemeral);
  const dh1 = hasSprivR
    ? c.x25519(hs.responderSkey.privateKey!, ephemeral)
    : c.x25519(hs.initiatorEkey.privateKey!, hs.responderSkey.publicKey);
  let key: Uint8Array;
  [chainKey, key] = kdf2(c, chainKey, dh1);
  const staticPublic = c.open(key, 0n, encryptedStatic, hash);
  if (!staticPublic) return;
  const known = keys.statics.get(hexOf(staticPublic));
  hs.initiatorSkey = known ?? { publicKey: staticPublic, privateKey: null };
  if (!hasSprivR && !hs.initiatorSkey.privateKey) return;
  hash = c.hash(hash, encryptedStatic);
  const dh2 = hasSprivR
    ? c.x25519(hs.responderSkey.privateKey!, hs.initiatorSkey.publicKey)
    : c.x25519(hs.initiatorSkey.privateKey!, hs.responderSkey.publicKey);
  [chainKey, key] = kdf2(c, chainKey, dh2);
  const timestamp = c.open(key, 0n, encryptedTimestamp, hash);
  if (!timestamp) return;
  hs.timestamp = timestamp;
  hash = c.hash(hash, encryptedTimestamp);
  hs.hash = hash;
  hs.chainKey = chainKey;
}

/** Checks a response against the initiation (wg.handshake_ok) and derives the transport keys. */
export function processResponse(keys: KeyMaterial, hs: Handshake, p: Uint8Array): void {
  if (hs.responded) return; // "multiple responses linked to a single session"
  const c = keys.crypto;
  const ephemeral = p.subarray(12, 44);
  const encryptedEmpty = p.subarray(44, 60);
  const ekeyR = keys.ephemeral(ephemeral) ?? {
    publicKey: ephemeral.slice(),
    privateKey: null,
    psks: [],
  };
  const skeyI = hs.initiatorSkey!;
  const hasEprivI = hs.initiatorEkey.privateKey !== null;
  const hasSprivI = skeyI.privateKey !== null;
  const hasEprivR = ekeyR.privateKey !== null;
  if (!(hasEprivI && hasSprivI) && !hasEprivR) return;
  let chainKey = kdf1(c, hs.chainKey, ephemeral);
  const hashBase = c.hash(hs.hash, ephemeral);
  const asInitiator = hasEprivI && hasSprivI;
  const dh1 = asInitiator
    ? c.x25519(hs.initiatorEkey.privateKey!, ephemeral)
    : c.x25519(ekeyR.privateKey!, hs.initiatorEkey.publicKey);
  chainKey = kdf1(c, chainKey, dh1);
  const dh2 = asInitiator
    ? c.x25519(skeyI.privateKey!, ephemeral)
    : c.x25519(ekeyR.privateKey!, skeyI.publicKey);
  chainKey = kdf1(c, chainKey, dh2);
  const candidates = [...hs.initiatorEkey.psks, ...ekeyR.psks, ZERO32];
  for (const psk of candidates) {
    const [ck, tau, key] = kdf3(c, chainKey, psk);
    const hash = c.hash(hashBase, tau);
    if (c.open(key, 0n, encryptedEmpty, hash) === null) continue;
    hs.emptyOk = true;
    const [initiatorToResponder, responderToInitiator] = kdf2(c, ck, EMPTY);
    hs.initiatorRecv = responderToInitiator;
    hs.responderRecv = initiatorToResponder;
    hs.responded = true;
    return;
  }
}
