// `sealInto` writes exactly what `seal` returns, at an offset, also in place, on every backend.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backendsUnderTest, toHex } from "./crypto-backends.js";

const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength });
const counter = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

describe.each(backendsUnderTest)("$name sealInto", ({ backend }) => {
  const sealInto = backend.sealInto!;

  it("writes seal's bytes behind the offset and nothing else, from a copy or in place", () => {
    fc.assert(
      fc.property(
        bytes(32, 32),
        counter,
        bytes(0, 1500),
        bytes(0, 40),
        fc.nat(64),
        (key, n, plaintext, aad, offset) => {
          const sealed = backend.seal(key, n, plaintext, aad);
          const out = new Uint8Array(offset + sealed.length + 3).fill(0xee);
          sealInto(key, n, plaintext, aad, out, offset);
          expect(toHex(out.subarray(offset, offset + sealed.length))).toBe(toHex(sealed));
          expect(out.subarray(0, offset).every((b) => b === 0xee)).toBe(true);
          expect(out.subarray(offset + sealed.length).every((b) => b === 0xee)).toBe(true);

          const inPlace = new Uint8Array(offset + sealed.length);
          inPlace.set(plaintext, offset);
          const view = inPlace.subarray(offset, offset + plaintext.length);
          sealInto(key, n, view, aad, inPlace, offset);
          expect(toHex(inPlace.subarray(offset))).toBe(toHex(sealed));
          expect(
            toHex(backend.open(key, n, inPlace.subarray(offset), aad) ?? new Uint8Array()),
          ).toBe(toHex(plaintext));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("refuses an output without room for the ciphertext and its tag, writing nothing", () => {
    const key = new Uint8Array(32);
    const out = new Uint8Array(40);
    expect(() => sealInto(key, 0n, new Uint8Array(25), new Uint8Array(), out, 0)).toThrow(
      /sealInto: 41 bytes do not fit at 0 in 40/,
    );
    expect(() => sealInto(key, 0n, new Uint8Array(8), new Uint8Array(), out, 17)).toThrow(
      RangeError,
    );
    expect(() => sealInto(key, 0n, new Uint8Array(8), new Uint8Array(), out, -1)).toThrow(
      RangeError,
    );
    expect(out.every((b) => b === 0)).toBe(true);
  });
});
