import {
  checkAeadArguments,
  checkSealInto,
  counterNonces,
  openOrNull,
  TAG_LENGTH,
} from "./arguments.js";
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
  /**
   * The WebAssembly module under the wrappers (libsodium-wrappers' `libsodium`), when there: then
   * the transport AEAD calls it directly on buffers of its memory allocated once (see
   * {@link SodiumModule}), without the wrappers' allocations per call.
   */
  libsodium?: unknown;
}

/**
 * The parts of libsodium's WebAssembly module (Emscripten) the transport AEAD uses: its memory,
 * `malloc`, and the combined ChaCha20-Poly1305 (IETF) functions, whose 64-bit lengths are passed
 * as two 32-bit halves and whose pointers are offsets into `HEAPU8`.
 */
interface SodiumModule {
  /** Replaced when the memory grows: read it after any `_malloc`. */
  readonly HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(pointer: number): void;
  _crypto_aead_chacha20poly1305_ietf_encrypt(
    c: number,
    clenP: number,
    m: number,
    mlenLow: number,
    mlenHigh: number,
    ad: number,
    adlenLow: number,
    adlenHigh: number,
    nsec: number,
    npub: number,
    k: number,
  ): number;
  _crypto_aead_chacha20poly1305_ietf_decrypt(
    m: number,
    mlenP: number,
    nsec: number,
    c: number,
    clenLow: number,
    clenHigh: number,
    ad: number,
    adlenLow: number,
    adlenHigh: number,
    npub: number,
    k: number,
  ): number;
}

function sodiumModule(sodium: SodiumAead): SodiumModule | undefined {
  const raw = sodium.libsodium as Partial<SodiumModule> | undefined;
  return raw &&
    typeof raw._malloc === "function" &&
    typeof raw._free === "function" &&
    typeof raw._crypto_aead_chacha20poly1305_ietf_encrypt === "function" &&
    typeof raw._crypto_aead_chacha20poly1305_ietf_decrypt === "function" &&
    raw.HEAPU8 instanceof Uint8Array
    ? (raw as SodiumModule)
    : undefined;
}

/**
 * ChaCha20-Poly1305 on libsodium's module with its buffers allocated once (grown when a larger
 * message comes): per packet the key, nonce and input are copied into its memory and the result
 * straight out to where it goes, with no array or object made on the way but the plaintext an open
 * returns. The key is wiped from the module's memory after each call.
 */
class SodiumDirect {
  readonly #lib: SodiumModule;
  readonly #key: number;
  readonly #nonce: number;
  #input = 0;
  #output = 0;
  #ad = 0;
  #capacity = -1;
  #adCapacity = -1;

  constructor(lib: SodiumModule) {
    this.#lib = lib;
    this.#key = this.#malloc(32);
    this.#nonce = this.#malloc(12);
  }

  /** Seals into `out` at `offset` (ciphertext, then tag); `plaintext` may be that region. */
  seal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void {
    const length = plaintext.length;
    this.#reserve(length + TAG_LENGTH, aad.length);
    const heap = this.#enter(key, nonce, aad);
    heap.set(plaintext, this.#input);
    const lib = this.#lib;
    const status = lib._crypto_aead_chacha20poly1305_ietf_encrypt(
      this.#output,
      0,
      this.#input,
      length,
      0,
      this.#ad,
      aad.length,
      0,
      0,
      this.#nonce,
      this.#key,
    );
    heap.fill(0, this.#key, this.#key + 32);
    if (status !== 0) throw new Error(`libsodium: ChaCha20-Poly1305 seal failed (${status})`);
    out.set(heap.subarray(this.#output, this.#output + length + TAG_LENGTH), offset);
  }

  /** The plaintext, or null when `ciphertext` does not authenticate. */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | null {
    if (ciphertext.length < TAG_LENGTH) return null;
    this.#reserve(ciphertext.length, aad.length);
    const heap = this.#enter(key, nonce, aad);
    heap.set(ciphertext, this.#input);
    const status = this.#lib._crypto_aead_chacha20poly1305_ietf_decrypt(
      this.#output,
      0,
      0,
      this.#input,
      ciphertext.length,
      0,
      this.#ad,
      aad.length,
      0,
      this.#nonce,
      this.#key,
    );
    heap.fill(0, this.#key, this.#key + 32);
    if (status !== 0) return null;
    return heap.slice(this.#output, this.#output + ciphertext.length - TAG_LENGTH);
  }

  /** Key, nonce and associated data into the module's memory; its memory as it is now. */
  #enter(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): Uint8Array {
    const heap = this.#lib.HEAPU8;
    heap.set(key, this.#key);
    heap.set(nonce, this.#nonce);
    if (aad.length > 0) heap.set(aad, this.#ad);
    return heap;
  }

  /** Input and output room for `size` bytes (each), and `adSize` of associated data. */
  #reserve(size: number, adSize: number): void {
    if (size > this.#capacity) {
      const capacity = Math.max(size, 2048);
      if (this.#capacity >= 0) {
        this.#lib._free(this.#input);
        this.#lib._free(this.#output);
      }
      this.#input = this.#malloc(capacity);
      this.#output = this.#malloc(capacity);
      this.#capacity = capacity;
    }
    if (adSize > this.#adCapacity) {
      const capacity = Math.max(adSize, 64);
      if (this.#adCapacity >= 0) this.#lib._free(this.#ad);
      this.#ad = this.#malloc(capacity);
      this.#adCapacity = capacity;
    }
  }

  #malloc(size: number): number {
    const pointer = this.#lib._malloc(size);
    if (pointer === 0) throw new Error(`libsodium: no memory for ${size} bytes`);
    return pointer;
  }
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
 * A backend (noble unless `base` says otherwise) with its transport AEAD (`seal`, `open`: every
 * data packet) on libsodium's WebAssembly: about three times faster in a browser than noble's
 * JavaScript, and faster in Node than a `node:crypto` cipher object per packet
 * (docs/performance.md). X25519, BLAKE2s and the cookies' XChaCha20-Poly1305 run once per
 * handshake and stay the base's.
 */
export function withSodiumAead(
  sodium: SodiumAead,
  base: CryptoBackend = nobleCrypto,
): CryptoBackend {
  const counterNonce = counterNonces(); // one array: libsodium copies it into its memory per call
  const lib = sodiumModule(sodium);
  if (lib) return sodiumDirectBackend(base, new SodiumDirect(lib), counterNonce);
  return {
    ...base,
    name: `${base.name}+libsodium`,
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

/** {@link withSodiumAead} on the module itself: nothing allocated per packet but an opened plaintext. */
function sodiumDirectBackend(
  base: CryptoBackend,
  direct: SodiumDirect,
  counterNonce: (counter: bigint) => Uint8Array,
): CryptoBackend {
  const sealInto: NonNullable<CryptoBackend["sealInto"]> = (
    key,
    counter,
    plaintext,
    aad,
    out,
    offset,
  ) => {
    const nonce = counterNonce(counter);
    checkAeadArguments(key, nonce);
    checkSealInto(plaintext.length, out, offset);
    direct.seal(key, nonce, plaintext, aad, out, offset);
  };
  return {
    ...base,
    name: `${base.name}+libsodium`,
    seal(key, counter, plaintext, aad) {
      const sealed = new Uint8Array(plaintext.length + TAG_LENGTH);
      sealInto(key, counter, plaintext, aad, sealed, 0);
      return sealed;
    },
    sealInto,
    open(key, counter, ciphertext, aad) {
      const nonce = counterNonce(counter);
      checkAeadArguments(key, nonce);
      return direct.open(key, nonce, ciphertext, aad);
    },
  };
}
