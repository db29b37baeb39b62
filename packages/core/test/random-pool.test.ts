import { describe, expect, it } from "vitest";
import { pooledRandom } from "../src/node/random-pool.js";

describe("pooledRandom (the Node adapter's random source)", () => {
  it("answers every length with fresh bytes that later answers never overwrite", () => {
    const random = pooledRandom();
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
});
