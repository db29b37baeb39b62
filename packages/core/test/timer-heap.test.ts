import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeadlineHeap, TIMERS, TimerTable } from "../src/timers.js";

describe("DeadlineHeap", () => {
  it("always yields the earliest deadline and exactly the entries due, under any updates", () => {
    const op = fc.record({
      item: fc.nat(19),
      deadline: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(Number.POSITIVE_INFINITY)),
      remove: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200 }),
        fc.integer({ min: 0, max: 1000 }),
        (ops, now) => {
          const heap = new DeadlineHeap<{ deadline: number; heapIndex: number; id: number }>();
          const items = Array.from({ length: 20 }, (_, id) => ({
            deadline: Number.POSITIVE_INFINITY,
            heapIndex: -1,
            id,
          }));
          for (const { item, deadline, remove } of ops) {
            if (remove) {
              heap.remove(items[item]!);
              items[item]!.deadline = Number.POSITIVE_INFINITY;
            } else heap.update(items[item]!, deadline);
          }
          const armed = items.filter((i) => i.deadline !== Number.POSITIVE_INFINITY);
          expect(heap.size).toBe(armed.length);
          const min = Math.min(...armed.map((i) => i.deadline));
          expect(heap.peek()?.deadline ?? Number.POSITIVE_INFINITY).toBe(min);
          const due = heap.due(now).map((i) => i.id);
          expect(due.sort((x, y) => x - y)).toEqual(
            armed.filter((i) => i.deadline <= now).map((i) => i.id),
          );
        },
      ),
    );
  });
});

describe("TimerTable", () => {
  it("reports due timers in the table's fixed order, whatever order they were armed in", () => {
    const table = new TimerTable();
    for (const timer of [...TIMERS].reverse()) table.set(timer, 10);
    const order: string[] = [];
    for (let t = table.due(10); t; t = table.due(10)) {
      order.push(t);
      table.clear(t);
    }
    expect(order).toEqual([...TIMERS]);
    expect(table.earliest()).toBe(Number.POSITIVE_INFINITY);
  });
});
