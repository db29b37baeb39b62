/**
 * The primitives WireGuard needs, behind one interface so the portable (noble) and the
 * native (node:crypto) implementations are interchangeable and can be tested against each other.
 * All functions are synchronous and pure: no hidden state, no randomness.
 */
export interface CryptoBackend {
  readonly name: string;
  /** X25519 public key of a 32-byte private key (clamped per RFC 7748). */
  x25519Public(privateKey: Uint8Array): Uint8Array;
  /** X25519 shared secret. Returns all zeros for low-order points; callers must check. */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** BLAKE2s-256 of the concatenation of `parts` (Noise HASH). */
  hash(...parts: Uint8Array[]): Uint8Array;
  /** Keyed BLAKE2s with a 16-byte output (WireGuard MAC, used for mac1/mac2). */
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HMAC-BLAKE2s-256 of the concatenation of `parts` (Noise HKDF building block). */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;
  /** ChaCha20-Poly1305; the nonce is 4 zero bytes followed by `counter` as 64-bit little endian. */
  seal(key: Uint8Array, counter: bigint, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /**
   * `seal` that writes into `out` at `offset` instead of returning a new array: the ciphertext,
   * then the 16-byte tag (`out` must have `plaintext.length + 16` bytes there). `plaintext` may be
   * that very region of `out` (sealing in place). Optional: a transport message is then built in
   * one buffer, header and all, without copying the sealed bytes into it.
   */
  sealInto?(
    key: Uint8Array,
    counter: bigint,
    plaintext: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void;
  /** Inverse of `seal`; `null` when authentication fails. Never throws on bad ciphertext. */
  open(
    key: Uint8Array,
    counter: bigint,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | null;
  /** XChaCha20-Poly1305 with a 24-byte nonce (cookie replies). */
  xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Inverse of `xseal`; `null` when authentication fails. */
  xopen(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | null;
}

/** Source of cryptographically secure random bytes, supplied by the caller (sans-IO). */
export type RandomSource = (length: number) => Uint8Array;
