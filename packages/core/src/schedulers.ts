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
}

/** Time that moves only in `advanceTo`, running each timer at exactly its time, in order. */
export class VirtualScheduler implements Scheduler {
  #now: number;
  #order = 0;
  #pending: Pending[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  at(time: number, fn: () => void): () => void {
    const entry = { time: Math.max(time, this.#now), order: this.#order++, fn };
    this.#pending.push(entry);
    return () => {
      this.#pending = this.#pending.filter((p) => p !== entry);
    };
  }

  /** The time of the earliest timer, if any. */
  next(): number | undefined {
    let min: number | undefined;
    for (const p of this.#pending) if (min === undefined || p.time < min) min = p.time;
    return min;
  }

  /** Runs every timer due up to `time` (including ones they set), then sets the clock to `time`. */
  advanceTo(time: number): void {
    for (;;) {
      let first: Pending | undefined;
      for (const p of this.#pending) {
        if (
          p.time <= time &&
          (!first || p.time < first.time || (p.time === first.time && p.order < first.order))
        ) {
          first = p;
        }
      }
      if (!first) break;
      this.#pending = this.#pending.filter((p) => p !== first);
      this.#now = first.time;
      first.fn();
    }
    this.#now = Math.max(this.#now, time);
  }
}
