/**
 * The two schedulers a `DeviceRunner` runs on. `realTime` is the only code in this package that
 * reads a clock or sets a timer; `VirtualScheduler` moves time only when told to.
 */
import type { Scheduler } from "./runner.js";

/** performance.now() and setTimeout; Node timers are unref'd (the socket keeps a process alive). */
export const realTime: Scheduler = {
  now: () => performance.now(),
  at(time, fn) {
    const timer = setTimeout(fn, Math.max(0, time - performance.now()));
    if (typeof timer === "object" && "unref" in timer) timer.unref();
    return () => clearTimeout(timer);
  },
};

interface Pending {
  time: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

const before = (x: Pending, y: Pending) =>
  x.time < y.time || (x.time === y.time && x.order < y.order);

/**
 * Time that moves only in `advanceTo`, running each timer at exactly its time; timers due at the
 * same time run in the order they were set. Pending timers sit in a binary heap, so a replay of
 * thousands of scheduled messages costs O(log n) per timer; a cancelled one is dropped when it
 * reaches the top.
 */
export class VirtualScheduler implements Scheduler {
  #now: number;
  #order = 0;
  readonly #heap: Pending[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  at(time: number, fn: () => void): () => void {
    const entry: Pending = {
      time: Math.max(time, this.#now),
      order: this.#order++,
      fn,
      cancelled: false,
    };
    this.#push(entry);
    return () => {
      entry.cancelled = true;
    };
  }

  /** The time of the earliest timer, if any. */
  next(): number | undefined {
    return this.#top()?.time;
  }

  /** Runs every timer due up to `time` (including ones they set), then sets the clock to `time`. */
  advanceTo(time: number): void {
    for (let first = this.#top(); first && first.time <= time; first = this.#top()) {
      this.#pop();
      this.#now = first.time;
      first.fn();
    }
    this.#now = Math.max(this.#now, time);
  }

  /** The earliest timer not cancelled (cancelled ones on top are dropped on the way). */
  #top(): Pending | undefined {
    while (this.#heap[0]?.cancelled) this.#pop();
    return this.#heap[0];
  }

  #push(entry: Pending): void {
    const h = this.#heap;
    let i = h.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = entry;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= h.length) break;
      const right = left + 1;
      const child = right < h.length && before(h[right]!, h[left]!) ? right : left;
      if (!before(h[child]!, last)) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = last;
  }
}
