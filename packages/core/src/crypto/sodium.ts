import { checkAeadArguments, checkSealInto, counterNonces, openOrNull } from "./arguments.js";
import { nobleCrypto } from "./noble.js";
import type { CryptoBackend } from "./types.js";

/**
 * The two functions of libsodium (`libsodium-wrappers`, WebAssembly) the transport AEAD needs.
 * The caller loads and hands in the library, so the core neither depends on it nor loads anything.
 */
export interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt(
    message: Uint8Array,
    additionalData: Uint8Array | null,
    secretNonce: null,
    publicNonce: Uint8Array,
    key: Uint8Array,
  ): Uint8Array;
  /** Throws when authentication fails. */
  crypto_aead_chacha20poly1305_ietf_decrypt(
    secretNonce: null,
    ciphertext: Uint8Array,
    additionalData: Uint8Array | null,
    publicNonce: Uint8Array,
    key: Uint8Array,
  ): Uint8Array;
}

/**
 * RFC 8439 AEAD with a raw 12-byte nonce on libsodium. Exported for known-answer tests only.
 * @internal
 */
export function sodiumSealWithNonce(
  sodium: SodiumAead,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  checkAeadArguments(key, nonce);
  return sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, aad, null, nonce, key);
}

/** Inverse of {@link sodiumSealWithNonce}; `null` when authentication fails. @internal */
export function sodiumOpenWithNonce(
  sodium: SodiumAead,
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  checkAeadArguments(key, nonce);
  return openOrNull(ciphertext, () =>
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, aad, nonce, key),
  );
}

/**
 * The noble backend with its transport AEAD (`seal`, `open`: every data packet) on libsodium's
 * WebAssembly, about three times faster in a browser than noble's JavaScript (docs/performance.md).
 * X25519, BLAKE2s and the cookies' XChaCha20-Poly1305 run once per handshake and stay noble.
 */
export function withSodiumAead(sodium: SodiumAead): CryptoBackend {
  const counterNonce = counterNonces(); // one array: libsodium copies it into its memory per call
  return {
    ...nobleCrypto,
    name: "noble+libsodium",
    seal: (key, counter, plaintext, aad) =>
      sodiumSealWithNonce(sodium, key, counterNonce(counter), plaintext, aad),
    // libsodium's result lives in its own memory and comes back as a new array either way.
    sealInto(key, counter, plaintext, aad, out, offset) {
      checkSealInto(plaintext.length, out, offset);
      const nonce = counterNonce(counter);
      out.set(sodiumSealWithNonce(sodium, key, nonce, plaintext, aad), offset);
    },
    open: (key, counter, ciphertext, aad) =>
      sodiumOpenWithNonce(sodium, key, counterNonce(counter), ciphertext, aad),
  };
}
