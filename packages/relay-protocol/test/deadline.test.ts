// The stall-aware deadline on virtual time: a stall is the clock jumping ahead while no timer ran
// (a stopped or starved process), a timer then firing late.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { deadline, rejectAfter, stallSlackMs } from "../src/deadline.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** A clock that runs with the fake timers, plus `stall(ms)`: time that passes with no timer run. */
function stallingClock() {
  let stalled = 0;
  return {
    now: () => Date.now() + stalled,
    stall(ms: number) {
      stalled += ms;
    },
  };
}

describe("deadline", () => {
  it("expires after its time when the process ran throughout, and not when cancelled", () => {
    const expire = vi.fn();
    deadline(1_000, expire, stallingClock());
    vi.advanceTimersByTime(999);
    expect(expire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expire).toHaveBeenCalledTimes(1);

    const cancelled = vi.fn();
    deadline(1_000, cancelled, stallingClock()).cancel();
    vi.advanceTimersByTime(10_000);
    expect(cancelled).not.toHaveBeenCalled();
  });

  it("gives back the time of a stall instead of expiring when its timer comes late", () => {
    const clock = stallingClock();
    const expire = vi.fn();
    deadline(1_000, expire, clock);
    vi.advanceTimersByTime(500);
    clock.stall(80); // the timer runs 80 ms late: a busy loop's lag, not a stall
    vi.advanceTimersByTime(500);
    expect(expire).toHaveBeenCalledTimes(1);

    const late = vi.fn();
    deadline(1_000, late, clock);
    vi.advanceTimersByTime(500);
    clock.stall(3_000); // stopped: the timer runs 3 s late
    vi.advanceTimersByTime(500);
    expect(late).not.toHaveBeenCalled();
    // What came during the stall is read now; the deadline is judged 1 s (at most its own time) on.
    vi.advanceTimersByTime(999);
    expect(late).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(late).toHaveBeenCalledTimes(1);
  });

  it("expires all the same when the stalls go on: at most its own time is given back", () => {
    const clock = stallingClock();
    const expire = vi.fn();
    deadline(1_000, expire, clock);
    let ran = 0;
    while (expire.mock.calls.length === 0) {
      clock.stall(400);
      vi.advanceTimersByTime(100);
      ran += 100;
    }
    // 1 s of its own, 1 s given back, plus the last stall's lateness.
    expect(ran).toBeLessThanOrEqual(2_000);
    expect(stallSlackMs(1_000)).toBe(100);
    expect(stallSlackMs(10)).toBe(100);
  });

  it("rejectAfter rejects with the given error, unless cancelled first", async () => {
    const timeout = rejectAfter(50, () => new Error("took too long"));
    vi.advanceTimersByTime(50);
    await expect(timeout.expired).rejects.toThrow("took too long");
    const cancelled = rejectAfter(50, () => new Error("never"));
    cancelled.cancel();
    vi.advanceTimersByTime(100);
    const settled = await Promise.race([
      cancelled.expired.then(
        () => "resolved",
        () => "rejected",
      ),
      Promise.resolve("pending"),
    ]);
    expect(settled).toBe("pending");
  });
});
