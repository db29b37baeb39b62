import type { CryptoBackend } from "./crypto/types.js";

// Noise's HKDF (RFC 5869 with HMAC-BLAKE2s and an empty info), as WireGuard uses it: `key` is
// the chaining key and each output is 32 bytes. T(i) = HMAC(PRK, T(i-1) || i).
const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

export function kdf1(backend: CryptoBackend, key: Uint8Array, input: Uint8Array): Uint8Array {
  const prk = backend.hmac(key, input);
  const t1 = backend.hmac(prk, ONE);
  prk.fill(0);
  return t1;
}

export function kdf2(
  backend: CryptoBackend,
  key: Uint8Array,
  input: Uint8Array,
): [Uint8Array, Uint8Array] {
  const prk = backend.hmac(key, input);
  const t1 = backend.hmac(prk, ONE);
  const t2 = backend.hmac(prk, t1, TWO);
  prk.fill(0);
  return [t1, t2];
}

export function kdf3(
  backend: CryptoBackend,
  key: Uint8Array,
  input: Uint8Array,
): [Uint8Array, Uint8Array, Uint8Array] {
  const prk = backend.hmac(key, input);
  const t1 = backend.hmac(prk, ONE);
  const t2 = backend.hmac(prk, t1, TWO);
  const t3 = backend.hmac(prk, t2, THREE);
  prk.fill(0);
  return [t1, t2, t3];
}
