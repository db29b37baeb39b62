import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareTai64n, decodeTai64n, TAI64_LABEL_BASE, tai64n } from "../src/tai64n.js";

const MS = 1_000_000n;
const S = 1_000_000_000n;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("tai64n", () => {
  it("encodes label and whitened nanoseconds big-endian", () => {
    // 2021-01-01T00:00:00.123456789Z: 123456789 ns rounds down to 7 × 2^24 = 117440512 ns.
    const stamp = tai64n(1_609_459_200n * S + 123_456_789n);
    expect(stamp).toHaveLength(12);
    expect(hex(stamp)).toBe(
      (TAI64_LABEL_BASE + 1_609_459_200n).toString(16).padStart(16, "0") +
        (117_440_512).toString(16).padStart(8, "0"),
    );
    expect(hex(tai64n(0n))).toBe("400000000000000a00000000");
    expect(decodeTai64n(stamp)).toEqual({ seconds: 1_609_459_200n, nanoseconds: 117_440_512 });
  });

  it("gives equal stamps 10 ms apart within one whitening bucket, and orders 20 ms apart", () => {
    // The same cases as wireguard-go's tai64n test, from 123456789 ns after the epoch.
    const start = 123_456_789n;
    expect(compareTai64n(tai64n(start), tai64n(start + 10n))).toBe(0);
    expect(compareTai64n(tai64n(start), tai64n(start + 1n * MS))).toBe(0);
    expect(compareTai64n(tai64n(start), tai64n(start + 10n * MS))).toBe(0);
    expect(compareTai64n(tai64n(start + 20n * MS), tai64n(start))).toBe(1);
    expect(compareTai64n(tai64n(start), tai64n(start + 20n * MS))).toBe(-1);
  });

  it("rounds down to multiples of 2^24 ns and never exceeds the real time", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 62n }), (ns) => {
        const { seconds, nanoseconds } = decodeTai64n(tai64n(ns));
        expect(seconds).toBe(ns / S);
        expect(nanoseconds % 2 ** 24).toBe(0);
        expect(BigInt(nanoseconds)).toBeLessThanOrEqual(ns % S);
        expect((ns % S) - BigInt(nanoseconds)).toBeLessThan(2n ** 24n);
      }),
    );
  });

  it("is monotonic: byte order follows time order", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 18n), max: 10n ** 19n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        (t, d) => {
          const order = compareTai64n(tai64n(t), tai64n(t + d));
          expect(order).toBeLessThanOrEqual(0);
          if (d >= 2n ** 24n) expect(order).toBe(-1);
        },
      ),
    );
  });

  it("handles times before 1970 with floor division", () => {
    expect(decodeTai64n(tai64n(-1n))).toEqual({
      seconds: -1n,
      nanoseconds: 999_999_999 - (999_999_999 % 2 ** 24),
    });
  });

  it("throws on caller mistakes", () => {
    expect(() => tai64n(2n ** 100n)).toThrow(RangeError);
    expect(() => tai64n(-(2n ** 100n))).toThrow(RangeError);
    expect(() => tai64n(1 as unknown as bigint)).toThrow(TypeError);
    expect(() => compareTai64n(new Uint8Array(11), new Uint8Array(12))).toThrow(RangeError);
    expect(() => decodeTai64n(new Uint8Array(13))).toThrow(RangeError);
  });

  it("decodes a peer's stamp as is, even with out-of-range nanoseconds", () => {
    const bytes = Uint8Array.from([0x40, 0, 0, 0, 0, 0, 0, 0x0b, 0xff, 0xff, 0xff, 0xff]);
    expect(decodeTai64n(bytes)).toEqual({ seconds: 1n, nanoseconds: 0xffffffff });
    expect(decodeTai64n(new Uint8Array(12))).toEqual({
      seconds: -TAI64_LABEL_BASE,
      nanoseconds: 0,
    });
  });
});
