/**
 * The byte queue under random pushes, drops and reads, against a plain array: what `peek` returns
 * and what `copyTo` writes into a segment (at any offset, across the ring's wrap) are the same
 * bytes, and `copyTo` touches nothing outside the range it reports.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteQueue } from "../src/byte-queue.js";

describe("ByteQueue", () => {
  it("copies the same bytes into a target as peek returns, across the ring's wrap", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            push: fc.integer({ min: 0, max: 5000 }),
            drop: fc.integer({ min: 0, max: 5000 }),
            offset: fc.integer({ min: 0, max: 6000 }),
            length: fc.integer({ min: 0, max: 3000 }),
            at: fc.integer({ min: 0, max: 100 }),
          }),
          { maxLength: 40 },
        ),
        (steps) => {
          const queue = new ByteQueue(20_000);
          let model: number[] = [];
          let next = 0;
          for (const s of steps) {
            const bytes = Uint8Array.from({ length: s.push }, () => next++ & 0xff);
            const taken = queue.push(bytes);
            model.push(...bytes.subarray(0, taken));
            queue.drop(s.drop);
            model = model.slice(Math.min(s.drop, model.length));
            const want = model.slice(s.offset, s.offset + s.length);
            expect([...queue.peek(s.offset, s.length)]).toEqual(want);
            const target = new Uint8Array(s.at + s.length + 8).fill(0xee);
            expect(queue.copyTo(s.offset, s.length, target, s.at)).toBe(want.length);
            expect([...target.subarray(s.at, s.at + want.length)]).toEqual(want);
            expect(target.subarray(0, s.at).every((b) => b === 0xee)).toBe(true);
            expect(target.subarray(s.at + want.length).every((b) => b === 0xee)).toBe(true);
            expect(queue.length).toBe(model.length);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
