// Property tests: the libsodium transport AEAD (the web worker's) must agree with noble byte for
// byte, and reject exactly what noble rejects. The known answers run in crypto-vectors.test.ts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nobleCrypto } from "../src/crypto/noble.js";
import { withSodiumAead } from "../src/crypto/sodium.js";
import { sodium, toHex } from "./crypto-backends.js";

const sodiumCrypto = withSodiumAead(sodium);
const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength });
const key32 = bytes(32, 32);
const counter = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

describe("libsodium AEAD agrees with noble", () => {
  it("same ciphertext, each opens the other's, both reject the same tampered inputs", () => {
    fc.assert(
      fc.property(
        key32,
        counter,
        bytes(0, 2000),
        bytes(0, 100),
        fc.nat(),
        (key, n, plaintext, ad, position) => {
          const sealed = nobleCrypto.seal(key, n, plaintext, ad);
          expect(toHex(sodiumCrypto.seal(key, n, plaintext, ad))).toBe(toHex(sealed));
          expect(sodiumCrypto.open(key, n, sealed, ad)).toEqual(plaintext);
          const tampered = sealed.slice();
          const bit = position % (tampered.length * 8);
          tampered[bit >> 3]! ^= 1 << (bit & 7);
          expect(sodiumCrypto.open(key, n, tampered, ad)).toBeNull();
          expect(nobleCrypto.open(key, n, tampered, ad)).toBeNull();
          const otherCounter = n === 0n ? 1n : n - 1n;
          expect(sodiumCrypto.open(key, otherCounter, sealed, ad)).toBeNull();
          const otherAad = Uint8Array.of(...ad, 0);
          expect(sodiumCrypto.open(key, n, sealed, otherAad)).toBeNull();
          expect(nobleCrypto.open(key, n, sealed, otherAad)).toBeNull();
        },
      ),
      { numRuns: 150 },
    );
  });

  it("on the module directly and through the wrappers alone: the same bytes, at any size", () => {
    expect((sodium as { libsodium?: unknown }).libsodium).toBeDefined(); // the direct path is the one under test above
    const wrappersOnly = withSodiumAead({
      crypto_aead_chacha20poly1305_ietf_encrypt: sodium.crypto_aead_chacha20poly1305_ietf_encrypt,
      crypto_aead_chacha20poly1305_ietf_decrypt: sodium.crypto_aead_chacha20poly1305_ietf_decrypt,
    });
    fc.assert(
      fc.property(
        key32,
        counter,
        // Sizes past the buffers the direct path starts with, so that they grow between runs.
        fc.oneof(bytes(0, 100), bytes(1400, 1500), bytes(3000, 70_000)),
        bytes(0, 100),
        (key, n, plaintext, ad) => {
          const sealed = sodiumCrypto.seal(key, n, plaintext, ad);
          expect(toHex(wrappersOnly.seal(key, n, plaintext, ad))).toBe(toHex(sealed));
          expect(wrappersOnly.open(key, n, sealed, ad)).toEqual(plaintext);
          expect(sodiumCrypto.open(key, n, sealed, ad)).toEqual(plaintext);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("null, not a throw, for any ciphertext shorter than a tag or made of noise", () => {
    fc.assert(
      fc.property(key32, counter, bytes(0, 64), (key, n, noise) => {
        expect(sodiumCrypto.open(key, n, noise, new Uint8Array(0))).toBeNull();
        expect(nobleCrypto.open(key, n, noise, new Uint8Array(0))).toBeNull();
      }),
      { numRuns: 100 },
    );
  });

  it("refuses a key or counter of the wrong shape as noble does, naming the argument", () => {
    const message = new Uint8Array(10);
    for (const backend of [sodiumCrypto, nobleCrypto]) {
      expect(() => backend.seal(new Uint8Array(31), 0n, message, message)).toThrow(
        /ChaCha20-Poly1305 key: expected 32 bytes/,
      );
      expect(() => backend.seal(new Uint8Array(32), -1n, message, message)).toThrow(/counter/);
    }
  });
});
