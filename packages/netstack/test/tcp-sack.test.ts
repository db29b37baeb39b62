/**
 * SACK-based loss recovery on the send side (RFC 6675): several segments lost in one window are
 * all resent within about one round trip of the first retransmission, without a timeout, where
 * NewReno (the fallback when the peer does not permit SACK) resends one hole per round trip.
 */
import { describe, expect, it } from "vitest";
import type { Connection } from "../src/tcp/connection.js";
import { Scoreboard } from "../src/tcp/scoreboard.js";
import { tapped } from "./tap.js";
import { firstDifference, pattern, startTransfer } from "./transfer.js";

const RTT = 40; // two 20 ms hops
const LOST = [30, 33, 36, 39]; // first transmissions of these client data segments

function lossyTransfer(sackRecovery: boolean) {
  let data = 0;
  const { pair, seen } = tapped(
    { delay: RTT / 2 },
    (s) => s.from === "a" && s.seg.data.length > 0 && LOST.includes(++data),
    { sackRecovery },
  );
  const bytes = pattern(400_000);
  const t = startTransfer(pair, bytes);
  expect(pair.run(() => t.closed.a !== undefined && t.closed.b !== undefined)).toBe(true);
  expect(firstDifference(t.bytes(), bytes)).toBe(-1);
  const sent = seen.filter((s) => s.from === "a" && s.seg.data.length > 0);
  const lost = LOST.map((i) => sent[i - 1]!);
  // When each lost segment went out again.
  const resent = lost.map((l) => sent.find((s) => s.seg.seq === l.seg.seq && s !== l)!.at);
  return { resent, stats: pair.a.stats, client: t.client as Connection };
}

describe("SACK loss recovery (RFC 6675)", () => {
  it("resends every hole of a window within a round trip, without a timeout", () => {
    const sack = lossyTransfer(true);
    expect(sack.stats.timeouts).toBe(0);
    expect(sack.stats.retransmissions).toBe(LOST.length);
    expect(Math.max(...sack.resent) - Math.min(...sack.resent)).toBeLessThan(RTT);
    expect(sack.client.cc.inRecovery).toBe(false);
    // NewReno needs a round trip per hole after the first.
    const reno = lossyTransfer(false);
    expect(reno.stats.timeouts).toBe(0);
    expect(Math.max(...reno.resent) - Math.min(...reno.resent)).toBeGreaterThanOrEqual(
      (LOST.length - 1) * RTT,
    );
  });

  it("keeps a bounded, merged scoreboard and counts lost bytes and the pipe per RFC 6675", () => {
    const board = new Scoreboard();
    const una = 1000;
    const mss = 100;
    // Holes at [1000,1100) and [1200,1300); SACKed 1100–1200 and 1300–1600; sent up to 1700.
    board.update([{ left: 1300, right: 1600 }], una, 1700);
    board.update([{ left: 1100, right: 1200 }], una, 1700);
    board.update(
      [
        { left: 1400, right: 1500 },
        { left: 500, right: 900 },
      ],
      una,
      1700,
    ); // dup, D-SACK
    expect(board.ranges).toEqual([
      { left: 1100, right: 1200 },
      { left: 1300, right: 1600 },
    ]);
    // 300 bytes (> 2 MSS) are SACKed above 1300: everything un-SACKed below it is lost.
    expect(board.lostBelow(una, mss)).toBe(1300);
    expect(board.nextHole(una, mss)).toEqual({ seq: 1000, length: 100 });
    // Pipe: 1600–1700 is in flight; the two lost holes are not, until resent.
    expect(board.pipe(una, 1700, mss)).toBe(100);
    board.highRxt = 1100;
    expect(board.pipe(una, 1700, mss)).toBe(200);
    expect(board.nextHole(una, mss)).toEqual({ seq: 1200, length: 100 });
    board.advance(1250);
    expect(board.ranges).toEqual([{ left: 1300, right: 1600 }]);
    expect(board.highRxt).toBe(1250);
    // Bounded: a peer reporting a thousand separate blocks leaves at most 32 ranges.
    for (let i = 0; i < 1000; i++)
      board.update([{ left: 2000 + 10 * i, right: 2005 + 10 * i }], 1250, 20_000);
    expect(board.ranges.length).toBeLessThanOrEqual(32);
  });
});
