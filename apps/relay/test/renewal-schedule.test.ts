/** The renewal schedule on a virtual clock: when it renews, how it backs off, when it stops. */

import { describe, expect, it } from "vitest";
import {
  RETRY_MAX_MS,
  RETRY_MIN_MS,
  RenewalSchedule,
  renewalTime,
  retryDelay,
  type Timers,
  type Validity,
} from "../src/renewal-schedule.js";

const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2030, 0, 1);

/** Timers on a clock that moves only when the test says so. */
class VirtualTime implements Timers {
  now = START;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 1;
  /** Delays the schedule asked for, in order. */
  readonly delays: number[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves to `at`, firing every timer due on the way, in order. */
  async advanceTo(at: number): Promise<void> {
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= at).sort((a, b) => a[1].at - b[1].at);
      if (due.length === 0) break;
      const [id, timer] = due[0]!;
      this.#timers.delete(id);
      this.now = timer.at;
      timer.callback();
      // Let a renewal that started settle before looking at the timers again.
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.now = at;
  }
}

const validFor = (from: number, days: number): Validity => ({
  validFrom: new Date(from),
  validTo: new Date(from + days * DAY),
});

function schedule(time: VirtualTime, outcomes: (Validity | Error)[]) {
  const attempts: number[] = [];
  const failures: { failures: number; retryAt: number }[] = [];
  const renewal = new RenewalSchedule({
    now: () => time.now,
    timers: time,
    renew: async () => {
      attempts.push(time.now);
      const outcome = outcomes.shift() ?? new Error("no more outcomes");
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    onFailure: (_error, count, retryAt) => failures.push({ failures: count, retryAt }),
  });
  return { renewal, attempts, failures };
}

describe("renewal schedule", () => {
  it("renews at two thirds of the lifetime: day 60 of a 90-day certificate", () => {
    expect(renewalTime(validFor(START, 90))).toBe(START + 60 * DAY);
    expect(renewalTime(validFor(START, 6))).toBe(START + 4 * DAY);
  });

  it("backs off from a minute, doubling, up to six hours", () => {
    expect([1, 2, 3, 4].map(retryDelay)).toEqual([1, 2, 4, 8].map((n) => n * RETRY_MIN_MS));
    expect(retryDelay(9)).toBe(256 * RETRY_MIN_MS);
    expect(retryDelay(10)).toBe(RETRY_MAX_MS);
    expect(retryDelay(1000)).toBe(RETRY_MAX_MS);
  });

  it("waits for day 60, in timer-sized steps, then renews once and plans the next renewal", async () => {
    const time = new VirtualTime();
    const { renewal, attempts } = schedule(time, [validFor(START + 60 * DAY, 90)]);
    renewal.start(validFor(START, 90));
    expect(renewal.dueAt).toBe(START + 60 * DAY);
    // 60 days do not fit in one setTimeout (at most 2^31-1 ms, about 24.8 days).
    expect(Math.max(...time.delays)).toBeLessThanOrEqual(2 ** 31 - 1);
    await time.advanceTo(START + 60 * DAY - 1);
    expect(attempts).toEqual([]);
    await time.advanceTo(START + 60 * DAY);
    expect(attempts).toEqual([START + 60 * DAY]);
    expect(renewal.dueAt).toBe(START + 120 * DAY);
    expect(time.pending).toBe(1);
  });

  it("renews at once when there is no certificate, or it is past its renewal time", async () => {
    const time = new VirtualTime();
    const none = schedule(time, [validFor(START, 90)]);
    none.renewal.start(undefined);
    await time.advanceTo(START);
    expect(none.attempts).toEqual([START]);

    const late = schedule(time, [validFor(START, 90)]);
    late.renewal.start(validFor(START - 80 * DAY, 90));
    await time.advanceTo(START);
    expect(late.attempts).toEqual([START]);
  });

  it("retries after 1, 2, 4 minutes on failure, then goes back to the lifetime schedule", async () => {
    const time = new VirtualTime();
    const failure = new Error("CA unreachable");
    const { renewal, attempts, failures } = schedule(time, [
      failure,
      failure,
      failure,
      validFor(START + 7 * 60_000, 90),
    ]);
    renewal.start(undefined);
    await time.advanceTo(START + DAY);
    const minute = 60_000;
    expect(attempts).toEqual([START, START + minute, START + 3 * minute, START + 7 * minute]);
    expect(failures.map((f) => f.failures)).toEqual([1, 2, 3]);
    expect(failures.map((f) => f.retryAt)).toEqual(attempts.slice(1));
    expect(renewal.failures).toBe(0);
    expect(renewal.dueAt).toBe(START + 7 * minute + 60 * DAY);
  });

  it("a forced renewal runs at once, replaces the plan, and joins one already running", async () => {
    const time = new VirtualTime();
    const { renewal, attempts } = schedule(time, [
      validFor(START + DAY, 90),
      validFor(START + 2 * DAY, 90),
    ]);
    renewal.start(validFor(START, 90));
    await time.advanceTo(START + DAY);
    const first = renewal.renewNow();
    const second = renewal.renewNow();
    expect(second).toBe(first);
    await first;
    expect(attempts).toEqual([START + DAY]);
    expect(renewal.dueAt).toBe(START + 61 * DAY);
    expect(time.pending).toBe(1);
  });

  it("plans nothing once stopped, even when an attempt ends afterwards", async () => {
    const time = new VirtualTime();
    const { renewal } = schedule(time, [validFor(START, 90)]);
    renewal.start(validFor(START - 90 * DAY, 90));
    const running = renewal.renewNow();
    renewal.stop();
    await running;
    expect(renewal.dueAt).toBeUndefined();
    expect(time.pending).toBe(0);
  });
});
