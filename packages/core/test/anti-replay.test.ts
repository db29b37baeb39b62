import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ANTI_REPLAY_WINDOW_SIZE,
  AntiReplayWindow,
  REJECT_AFTER_MESSAGES,
} from "../src/anti-replay.js";

/**
 * Brute-force model of RFC 6479 as wireguard-go's replay package behaves: a counter is accepted once,
 * if below the limit and at most 8128 behind the newest accepted counter (the newest starts at 0).
 */
class Reference {
  seen = new Set<bigint>();
  newest = 0n;

  check(counter: bigint): boolean {
    if (counter >= REJECT_AFTER_MESSAGES) return false;
    if (counter > this.newest) return true;
    return this.newest - counter <= 8128n && !this.seen.has(counter);
  }

  accept(counter: bigint): boolean {
    const ok = this.check(counter);
    if (ok) {
      this.seen.add(counter);
      if (counter > this.newest) this.newest = counter;
    }
    return ok;
  }
}

describe("AntiReplayWindow", () => {
  it("has the limits of wireguard-go and the kernel", () => {
    expect(REJECT_AFTER_MESSAGES).toBe(18446744073709543423n); // 2^64 − 8192 − 1
    expect(ANTI_REPLAY_WINDOW_SIZE).toBe(8128);
  });

  it("accepts each counter once, including 0 on a fresh window", () => {
    const window = new AntiReplayWindow();
    expect(window.accept(0n)).toBe(true);
    expect(window.accept(0n)).toBe(false);
    expect(window.accept(1n)).toBe(true);
    expect(window.accept(1n)).toBe(false);
  });

  it("keeps exactly 8128 counters behind the newest, wherever it sits in its word", () => {
    for (const newest of [
      8129n,
      10_000n,
      64n * 300n,
      64n * 300n + 63n,
      2n ** 40n + 17n,
      2n ** 60n + 5n,
    ]) {
      const window = new AntiReplayWindow();
      expect(window.accept(newest)).toBe(true);
      expect(window.check(newest - 8128n)).toBe(true);
      expect(window.check(newest - 8129n)).toBe(false);
      expect(window.accept(newest - 8129n)).toBe(false);
      expect(window.accept(newest - 8128n)).toBe(true);
      expect(window.accept(newest - 8128n)).toBe(false);
    }
  });

  it("accepts every counter of a full window once, in any order, then none again", () => {
    const window = new AntiReplayWindow();
    const newest = 20_000n;
    expect(window.accept(newest)).toBe(true);
    // Descending order exercises every ring word without moving the window.
    for (let c = newest - 1n; c >= newest - 8128n; c--) expect(window.accept(c)).toBe(true);
    for (let c = newest; c >= newest - 8128n; c--) expect(window.check(c)).toBe(false);
    expect(window.check(newest + 1n)).toBe(true);
  });

  it("forgets old bits when the window moves a whole ring ahead", () => {
    const window = new AntiReplayWindow();
    for (let c = 0n; c < 8192n; c++) window.accept(c);
    // Counter c + 8192 uses the same ring bit as c: it must be clear once the window reaches it.
    for (let c = 8192n; c < 2n * 8192n; c++) expect(window.accept(c)).toBe(true);
    expect(window.accept(8192n + 8191n - 8128n)).toBe(false);
  });

  it("handles huge jumps, on both the number and bigint paths", () => {
    const window = new AntiReplayWindow();
    expect(window.accept(5n)).toBe(true);
    const big = 2n ** 53n + 100n; // past Number.MAX_SAFE_INTEGER
    expect(window.accept(big)).toBe(true);
    expect(window.accept(5n)).toBe(false); // far behind
    expect(window.accept(big - 1n)).toBe(true);
    expect(window.accept(big - 1n)).toBe(false);
    expect(window.accept(big - 8128n)).toBe(true);
    expect(window.accept(big - 8129n)).toBe(false);
    // Stale bits from before the jump must not survive: big + 8192 - 1 maps to big - 1's ring bit.
    expect(window.accept(big + 8191n)).toBe(true);
    expect(window.accept(big + 8190n)).toBe(true);
  });

  it("rejects counters at and past REJECT_AFTER_MESSAGES", () => {
    const window = new AntiReplayWindow();
    expect(window.check(REJECT_AFTER_MESSAGES)).toBe(false);
    expect(window.accept(REJECT_AFTER_MESSAGES)).toBe(false);
    expect(window.accept(2n ** 64n - 1n)).toBe(false);
    expect(window.accept(REJECT_AFTER_MESSAGES - 1n)).toBe(true);
    expect(window.accept(REJECT_AFTER_MESSAGES - 1n)).toBe(false);
    expect(window.accept(REJECT_AFTER_MESSAGES - 2n)).toBe(true);
  });

  it("check never changes state", () => {
    const window = new AntiReplayWindow();
    expect(window.check(100n)).toBe(true);
    expect(window.check(100n)).toBe(true);
    expect(window.accept(10_000n)).toBe(true);
    expect(window.check(100n)).toBe(false); // 100 was never accepted; it is just too old now
    expect(window.accept(9_000n)).toBe(true);
  });

  it("throws RangeError for negative counters (a caller mistake)", () => {
    expect(() => new AntiReplayWindow().accept(-1n)).toThrow(RangeError);
    expect(() => new AntiReplayWindow().check(-1n)).toThrow(RangeError);
  });

  it("agrees with a brute-force reference on reordering, duplicates and jumps", () => {
    // Steps relative to the newest counter, concentrated on the interesting edges.
    const step = fc.oneof(
      fc.integer({ min: -200, max: 200 }),
      fc.constantFrom(
        -8129,
        -8128,
        -8127,
        -8192,
        -8191,
        -64,
        -63,
        63,
        64,
        65,
        8128,
        8129,
        8192,
        8193,
      ),
      fc.integer({ min: -9000, max: 9000 }),
      fc.integer({ min: 0, max: 2 ** 20 }),
    );
    const start = fc.constantFrom(
      0n,
      8000n,
      2n ** 53n - 3000n,
      2n ** 62n,
      REJECT_AFTER_MESSAGES - 20_000n,
    );
    fc.assert(
      fc.property(start, fc.array(step, { minLength: 1, maxLength: 400 }), (base, steps) => {
        const window = new AntiReplayWindow();
        const reference = new Reference();
        if (base > 0n) expect(window.accept(base)).toBe(reference.accept(base));
        for (const s of steps) {
          let counter = reference.newest + BigInt(s);
          if (counter < 0n) counter = -counter;
          expect(window.check(counter)).toBe(reference.check(counter));
          expect(window.accept(counter)).toBe(reference.accept(counter));
        }
      }),
      { numRuns: 300 },
    );
  });
});
