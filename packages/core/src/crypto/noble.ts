import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { abytes } from "../validate.js";
import {
  checkAeadArguments,
  checkSealInto,
  counterNonces,
  openOrNull,
  TAG_LENGTH,
} from "./arguments.js";
import type { CryptoBackend } from "./types.js";

/**
 * RFC 8439 AEAD with a raw 12-byte nonce. Exported for known-answer tests only: the RFC
 * vectors use nonces that WireGuard's counter layout cannot express.
 * @internal
 */
export function nobleSealWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  checkAeadArguments(key, nonce);
  return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** Inverse of {@link nobleSealWithNonce}; `null` when authentication fails. @internal */
export function nobleOpenWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  checkAeadArguments(key, nonce);
  return openOrNull(ciphertext, () => chacha20poly1305(key, nonce, aad).decrypt(ciphertext));
}

/** One nonce array rewritten per packet: noble reads it before `encrypt`/`decrypt` returns. */
const counterNonce = counterNonces();

/** Portable backend on the noble libraries: pure JavaScript, safe in browsers and workers. */
export const nobleCrypto: CryptoBackend = {
  name: "noble",

  x25519Public(privateKey) {
    abytes(privateKey, 32, "X25519 private key");
    return x25519.getPublicKey(privateKey);
  },

  x25519(privateKey, publicKey) {
    abytes(privateKey, 32, "X25519 private key");
    abytes(publicKey, 32, "X25519 public key");
    try {
      return x25519.getSharedSecret(privateKey, publicKey);
    } catch {
      // noble refuses low-order points; the interface returns the all-zero secret instead.
      return new Uint8Array(32);
    }
  },

  hash(...parts) {
    const hasher = blake2s.create();
    for (const part of parts) hasher.update(part);
    return hasher.digest();
  },

  mac(key, data) {
    // An empty key means unkeyed BLAKE2s (RFC 7693 kk = 0); noble wants `undefined` for that.
    return blake2s(data, { key: key.length === 0 ? undefined : key, dkLen: 16 });
  },

  hmac(key, ...parts) {
    if (parts.length === 1) return hmac(blake2s, key, parts[0]!);
    const mac = hmac.create(blake2s, key);
    for (const part of parts) mac.update(part);
    return mac.digest();
  },

  seal(key, counter, plaintext, aad) {
    return nobleSealWithNonce(key, counterNonce(counter), plaintext, aad);
  },

  sealInto(key, counter, plaintext, aad, out, offset) {
    const nonce = counterNonce(counter);
    checkAeadArguments(key, nonce);
    checkSealInto(plaintext.length, out, offset);
    // In place, noble copies the plaintext onto itself before encrypting it.
    const target = out.subarray(offset, offset + plaintext.length + TAG_LENGTH);
    chacha20poly1305(key, nonce, aad).encrypt(plaintext, target);
  },

  open(key, counter, ciphertext, aad) {
    return nobleOpenWithNonce(key, counterNonce(counter), ciphertext, aad);
  },

  xseal(key, nonce, plaintext, aad) {
    abytes(key, 32, "XChaCha20-Poly1305 key");
    abytes(nonce, 24, "XChaCha20-Poly1305 nonce");
    return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
  },

  xopen(key, nonce, ciphertext, aad) {
    abytes(key, 32, "XChaCha20-Poly1305 key");
    abytes(nonce, 24, "XChaCha20-Poly1305 nonce");
    if (ciphertext.length < TAG_LENGTH) return null;
    try {
      return xchacha20poly1305(key, nonce, aad).decrypt(ciphertext);
    } catch {
      return null;
    }
  },
};
