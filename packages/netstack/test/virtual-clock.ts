/** A clock for Netstack tests: time moves only when the test advances it. */
import { deterministicRandom } from "@wiregate/core";
import { type Clock, Netstack } from "../src/netstack.js";
import { A4, A6, B4, B6 } from "./pair.js";

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

/** Two Netstacks (a: A4/A6, b: B4/B6) on one virtual clock, `delayMs` apart each way. */
export function netstackPair(delayMs: number): { clock: VirtualClock; a: Netstack; b: Netstack } {
  const clock = new VirtualClock();
  const link = (to: () => Netstack) => (p: Uint8Array) =>
    clock.setTimeout(() => to().receive(p), delayMs);
  const a: Netstack = new Netstack({
    addresses: [A4, A6],
    clock,
    random: deterministicRandom("a"),
    send: link(() => b),
  });
  const b: Netstack = new Netstack({
    addresses: [B4, B6],
    clock,
    random: deterministicRandom("b"),
    send: link(() => a),
  });
  return { clock, a, b };
}
