/** A clock for Netstack tests: time moves only when the test advances it. */
import type { Clock } from "../src/netstack.js";

export class VirtualClock implements Clock {
  #now = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Lets promises settle, then fires the earliest timer; repeats until `done()` or idle. */
  async run(done: () => boolean, limit = 3_600_000): Promise<boolean> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (done()) return true;
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) if (!first || entry[1].at < first[1].at) first = entry;
      if (!first || first[1].at > limit) return false;
      this.#timers.delete(first[0]);
      this.#now = Math.max(this.#now, first[1].at);
      first[1].fn();
    }
  }
}
