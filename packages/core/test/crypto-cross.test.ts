// Property tests: the node:crypto backend must agree with the noble backend byte for byte.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nobleCrypto } from "../src/crypto/noble.js";
import { nodeCrypto } from "../src/crypto/node.js";
import { toHex } from "./crypto-backends.js";

const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength });
const key32 = bytes(32, 32);
const message = bytes(0, 2000);
const aad = bytes(0, 100);
const counter = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

/** Flips one bit somewhere in `sealed` (ciphertext or tag), chosen by `position`. */
function flipBit(sealed: Uint8Array, position: number): Uint8Array {
  const tampered = sealed.slice();
  const bit = position % (tampered.length * 8);
  tampered[bit >> 3]! ^= 1 << (bit & 7);
  return tampered;
}

describe("node backend agrees with noble", () => {
  it("X25519 public keys and shared secrets, for arbitrary 32-byte inputs", () => {
    fc.assert(
      fc.property(key32, key32, (privateKey, peerBytes) => {
        const publicKey = nobleCrypto.x25519Public(privateKey);
        expect(toHex(nodeCrypto.x25519Public(privateKey))).toBe(toHex(publicKey));
        // Arbitrary bytes: high bit set, non-canonical values and twist points included.
        expect(toHex(nodeCrypto.x25519(privateKey, peerBytes))).toBe(
          toHex(nobleCrypto.x25519(privateKey, peerBytes)),
        );
        expect(toHex(nodeCrypto.x25519(peerBytes, publicKey))).toBe(
          toHex(nobleCrypto.x25519(privateKey, nobleCrypto.x25519Public(peerBytes))),
        );
      }),
      { numRuns: 25 },
    );
  });

  it("BLAKE2s hash over any split of the input", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 4 }), (parts) => {
        expect(toHex(nodeCrypto.hash(...parts))).toBe(toHex(nobleCrypto.hash(...parts)));
      }),
      { numRuns: 150 },
    );
  });

  it("HMAC-BLAKE2s, including keys longer than the 64-byte block", () => {
    fc.assert(
      fc.property(bytes(0, 100), fc.array(message, { maxLength: 3 }), (key, parts) => {
        expect(toHex(nodeCrypto.hmac(key, ...parts))).toBe(toHex(nobleCrypto.hmac(key, ...parts)));
      }),
      { numRuns: 150 },
    );
  });

  it("keyed BLAKE2s-128 mac", () => {
    fc.assert(
      fc.property(bytes(0, 32), message, (key, data) => {
        const mac = nobleCrypto.mac(key, data);
        expect(mac.length).toBe(16);
        expect(toHex(nodeCrypto.mac(key, data))).toBe(toHex(mac));
      }),
      { numRuns: 50 },
    );
  });

  it("ChaCha20-Poly1305: same ciphertext, each opens the other's, both reject tampering", () => {
    fc.assert(
      fc.property(key32, counter, message, aad, fc.nat(), (key, n, plaintext, ad, position) => {
        const sealed = nobleCrypto.seal(key, n, plaintext, ad);
        expect(sealed.length).toBe(plaintext.length + 16);
        expect(toHex(nodeCrypto.seal(key, n, plaintext, ad))).toBe(toHex(sealed));
        expect(nodeCrypto.open(key, n, sealed, ad)).toEqual(plaintext);
        expect(nobleCrypto.open(key, n, sealed, ad)).toEqual(plaintext);
        const tampered = flipBit(sealed, position);
        expect(nodeCrypto.open(key, n, tampered, ad)).toBeNull();
        expect(nobleCrypto.open(key, n, tampered, ad)).toBeNull();
        const otherCounter = n === 0n ? 1n : n - 1n;
        expect(nodeCrypto.open(key, otherCounter, sealed, ad)).toBeNull();
        expect(nobleCrypto.open(key, otherCounter, sealed, ad)).toBeNull();
      }),
      { numRuns: 150 },
    );
  });

  it("XChaCha20-Poly1305: same ciphertext, both reject tampering", () => {
    fc.assert(
      fc.property(
        key32,
        bytes(24, 24),
        message,
        aad,
        fc.nat(),
        (key, nonce, plaintext, ad, position) => {
          const sealed = nobleCrypto.xseal(key, nonce, plaintext, ad);
          expect(toHex(nodeCrypto.xseal(key, nonce, plaintext, ad))).toBe(toHex(sealed));
          expect(nodeCrypto.xopen(key, nonce, sealed, ad)).toEqual(plaintext);
          const tampered = flipBit(sealed, position);
          expect(nodeCrypto.xopen(key, nonce, tampered, ad)).toBeNull();
          expect(nobleCrypto.xopen(key, nonce, tampered, ad)).toBeNull();
        },
      ),
      { numRuns: 50 },
    );
  });

  it("null, not a throw, for any ciphertext shorter than a tag or made of noise", () => {
    fc.assert(
      fc.property(key32, counter, bytes(0, 64), (key, n, noise) => {
        expect(nodeCrypto.open(key, n, noise, new Uint8Array(0))).toBeNull();
        expect(nobleCrypto.open(key, n, noise, new Uint8Array(0))).toBeNull();
      }),
      { numRuns: 100 },
    );
  });
});
