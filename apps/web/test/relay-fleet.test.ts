// Choosing a relay of a fleet and moving between them, on virtual time: the measurement ranks by
// control-stream round trip and keeps only the best session open, the fleet dials the next-best
// after a loss, and the watch calls a silent relay lost after three unanswered ticks.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RelayTarget } from "../src/protocol.js";
import { chooseRelay, type Dialled } from "../src/relay-choice.js";
import { RelayFleet } from "../src/relay-fleet.js";
import { LOST_AFTER_TICKS, RelayWatch, WATCH_INTERVAL_MS } from "../src/relay-watch.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const targets: RelayTarget[] = ["a", "b", "c"].map((name) => ({
  name,
  url: `https://${name}.example/wiregate`,
}));

/** A relay whose stats answer after `rttMs` of virtual time; `never`: it never answers. */
function relay(rttMs: number | "never") {
  const closed = vi.fn();
  const opened: Dialled = {
    kind: "native",
    conn: {
      stats: () =>
        rttMs === "never"
          ? new Promise(() => {})
          : new Promise((resolve) => setTimeout(() => resolve({} as never), rttMs)),
      close: closed,
    },
  };
  return { opened, closed };
}

describe("chooseRelay", () => {
  it("keeps the relay with the shortest round trip open, closes the others, ranks them all", async () => {
    const relays = [relay(30), relay(5), relay(12)];
    const dial = (t: RelayTarget) => Promise.resolve(relays[targets.indexOf(t)]!.opened);
    const choice = chooseRelay(targets, dial, () => Date.now());
    await vi.runAllTimersAsync();
    const result = await choice;
    expect(result.best?.index).toBe(1);
    expect(result.ranking).toEqual([1, 2, 0]);
    expect(result.measurements.map((m) => m.rttMs)).toEqual([30, 5, 12]);
    expect(result.reason).toBe("shortest control-stream round trip: 5.0 ms (next best: c, 12 ms)");
    expect(relays.map((r) => r.closed.mock.calls.length)).toEqual([1, 0, 1]);
  });

  it("uses what answered, says why the others are not used, ranks those last", async () => {
    const silent = relay("never");
    const dial = (t: RelayTarget) =>
      t.name === "a"
        ? Promise.reject(new Error("WebTransport failed"))
        : Promise.resolve(t.name === "b" ? silent.opened : relay(8).opened);
    const choice = chooseRelay(targets, dial, () => Date.now());
    await vi.runAllTimersAsync();
    const result = await choice;
    expect(result.best?.index).toBe(2);
    expect(result.ranking).toEqual([2, 0, 1]);
    expect(result.reason).toBe(
      "the only relay of 3 that answered (a: WebTransport failed; b: control-stream ping: no answer in 2000 ms)",
    );
    expect(silent.closed).toHaveBeenCalled();
    expect([...result.errors.keys()]).toEqual([0, 1]);
  });

  it("has no best when none answered", async () => {
    const choice = chooseRelay(targets, () => Promise.reject(new Error("down")), Date.now);
    await vi.runAllTimersAsync();
    const result = await choice;
    expect(result.best).toBeUndefined();
    expect(result.errors.size).toBe(3);
  });
});

describe("RelayFleet", () => {
  it("dials the next-best after a loss, records the move and why, bounded", () => {
    const fleet = new RelayFleet(targets);
    expect(fleet.unmeasured).toBe(true);
    fleet.measured([], [2, 0, 1], true);
    expect(fleet.next).toBe(2);
    expect(fleet.arrived(2, "fastest", 0, 0).reason).toBe("fastest");
    fleet.lost(2, "session closed", 1000);
    expect(fleet.next).toBe(0);
    // a cannot be reached either: b, then c again.
    fleet.demote(0);
    expect(fleet.next).toBe(1);
    const inUse = fleet.arrived(1, "next in the ranking", 3500, 42);
    expect(inUse.reason).toBe("the best of the rest after c was lost (session closed)");
    expect(inUse.moves).toEqual([
      { at: 42, from: "c", to: "b", reason: "session closed", tookMs: 2500 },
    ]);
    for (let i = 0; i < 20; i++) {
      fleet.lost(fleet.next === 1 ? 1 : fleet.next, "gone", i);
      fleet.arrived(fleet.next, "", i, i);
    }
    expect(fleet.arrived(fleet.next, "", 0, 0).moves.length).toBeLessThanOrEqual(10);
  });

  it("moves straight to WebSocket at a relay the measurement reached only over WebSocket", () => {
    const fleet = new RelayFleet(targets);
    fleet.measured(
      [
        { name: "a", url: targets[0]!.url, rttMs: 1, transport: "native" },
        { name: "b", url: targets[1]!.url, rttMs: 2, transport: "websocket" },
        { name: "c", url: targets[2]!.url, error: "down" },
      ],
      [0, 1, 2],
      true,
    );
    expect(fleet.skipNative(0)).toBeUndefined();
    expect(fleet.skipNative(1)).toBe(
      "HTTP/3 did not reach this relay when the page measured the fleet",
    );
    expect(fleet.skipNative(2)).toBeUndefined();
  });

  it("is no fleet with one relay: a reconnect to it is no move", () => {
    const fleet = new RelayFleet(targets.slice(0, 1));
    expect(fleet.isFleet).toBe(false);
    expect(fleet.unmeasured).toBe(false);
    fleet.lost(0, "session closed", 0);
    expect(fleet.arrived(0, "the only relay given", 1, 1)).toMatchObject({
      reason: "the only relay given",
      moves: [],
    });
  });
});

describe("RelayWatch", () => {
  it("calls a relay lost after three ticks without an answer, never while it answers", async () => {
    let answer = true;
    const lost = vi.fn();
    const watch = new RelayWatch(
      {
        stats: () => (answer ? Promise.resolve({} as never) : new Promise<never>(() => {})),
      },
      lost,
    );
    watch.start();
    await vi.advanceTimersByTimeAsync(WATCH_INTERVAL_MS * 20);
    expect(lost).not.toHaveBeenCalled();
    answer = false;
    await vi.advanceTimersByTimeAsync(WATCH_INTERVAL_MS * LOST_AFTER_TICKS);
    expect(lost).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(WATCH_INTERVAL_MS);
    expect(lost).toHaveBeenCalledTimes(1);
    expect(lost.mock.calls[0]![0]).toBe("the relay did not answer on the control stream for 3 s");
    await vi.advanceTimersByTimeAsync(WATCH_INTERVAL_MS * 10);
    expect(lost).toHaveBeenCalledTimes(1);
  });

  it("asks one request at a time", async () => {
    const stats = vi.fn(() => new Promise<never>(() => {}));
    const watch = new RelayWatch({ stats }, () => {});
    watch.start();
    await vi.advanceTimersByTimeAsync(WATCH_INTERVAL_MS * 2);
    watch.stop();
    expect(stats).toHaveBeenCalledTimes(1);
  });
});
