import { randomFillSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deterministicRandom } from "../src/deterministic.js";
import { pooledRandom } from "../src/random-pool.js";

describe("pooledRandom (the random source of the Node adapter and the web worker)", () => {
  it("answers every length with fresh bytes that later answers never overwrite", () => {
    const random = pooledRandom(randomFillSync);
    const kept = random(32);
    const copy = kept.slice();
    const answers: Uint8Array[] = [];
    for (let i = 0; i < 5000; i++) answers.push(random(1 + (i % 40))); // refills the pool often
    expect(kept).toEqual(copy);
    expect(answers.every((a, i) => a.length === 1 + (i % 40))).toBe(true);
    expect(random(10_000).length).toBe(10_000); // larger than the pool
    expect(random(0).length).toBe(0);
    // Random, not zeros: 32 bytes all zero, or two 32-byte answers equal, would be a broken pool.
    expect(kept.some((b) => b !== 0)).toBe(true);
    const keys = new Set(
      Array.from({ length: 200 }, () => Buffer.from(random(32)).toString("hex")),
    );
    expect(keys.size).toBe(200);
  });

  it("hands out the fill's bytes in order, each once, refilling only when the pool runs out", () => {
    const stream = deterministicRandom("pool");
    let fills = 0;
    const random = pooledRandom((bytes) => {
      fills++;
      bytes.set(stream(bytes.length));
    });
    const expected = deterministicRandom("pool")(4096 * 3);
    const got: number[] = [];
    // 2-byte jitter and 4-byte indices, as the device asks: 1,365 answers from one 4,096-byte fill.
    for (let i = 0; i < 1365; i++) got.push(...random(i % 2 ? 4 : 2));
    expect(fills).toBe(1);
    expect(Uint8Array.from(got)).toEqual(expected.subarray(0, got.length));
    // What does not fit the rest of the pool comes from the next fill; the rest is never reused.
    expect(random(32)).toEqual(expected.subarray(4096, 4096 + 32));
    expect(fills).toBe(2);
    // Longer than the pool: filled in pool-sized calls (getRandomValues takes at most 65,536).
    const sizes: number[] = [];
    const large = pooledRandom((bytes) => sizes.push(bytes.length))(70_000);
    expect(large.length).toBe(70_000);
    expect(sizes.every((n) => n <= 4096)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(70_000);
  });
});
