/**
 * SACK-based loss recovery on the send side (RFC 6675): several segments lost in one window are
 * all resent within about one round trip of the first retransmission, without a timeout, where
 * NewReno (the fallback when the peer does not permit SACK) resends one hole per round trip.
 */
import { describe, expect, it } from "vitest";
import type { Connection } from "../src/tcp/connection.js";
import { SentLog } from "../src/tcp/rack.js";
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

  it("logs each segment in flight: SACKs, partial ACKs, RACK's losses and the pipe (RFC 8985)", () => {
    const log = new SentLog();
    // Segments of 100 bytes from 1000, sent 1 ms apart; SND.MAX follows them.
    for (let i = 0; i < 7; i++) log.sent(1000 + 100 * i, 1100 + 100 * i, i, 1000 + 100 * i);
    expect(log.pipe).toBe(700);
    // SACKed 1100–1200, then 1300–1600; a D-SACK below SND.UNA and a stale block change nothing.
    expect(log.acked(1000, [{ left: 1100, right: 1200 }], 10)).toBe(true);
    expect(
      log.acked(
        1000,
        [
          { left: 1300, right: 1600 },
          { left: 500, right: 900 },
        ],
        11,
      ),
    ).toBe(true);
    expect(log.acked(1000, [{ left: 1400, right: 1500 }], 12)).toBe(false);
    expect(log.entries.filter((s) => s.sacked).map((s) => s.start)).toEqual([
      1100, 1300, 1400, 1500,
    ]);
    expect(log.pipe).toBe(300);
    // The newest delivered segment (sent at 5 ms) took 6 ms: 1000 and 1200, sent before it, are
    // lost once their own 6 ms and the reordering window (0: four segments SACKed, no reordering
    // seen) have passed; 1600–1700, sent after it, is not.
    expect(log.rtt).toBe(6);
    expect(log.reorderingSeen).toBe(false);
    expect(log.detectLoss(7, false, 6)).toEqual({ lost: 100, wait: 1 });
    expect(log.detectLoss(12, false, 6)).toEqual({ lost: 100 });
    expect(log.lostBytes).toBe(200);
    expect(log.pipe).toBe(100); // 1600–1700, sent last, is still in flight
    expect(log.firstLost()?.start).toBe(1000);
    // Resending 1000 takes it out of the lost bytes; it counts in the pipe again.
    log.sent(1000, 1100, 23, 1700);
    expect(log.firstLost()?.start).toBe(1200);
    expect(log.pipe).toBe(200);
    // A partial cumulative ACK trims the first segment; the rest stays logged.
    log.acked(1050, undefined, 30);
    expect(log.entries[0]).toMatchObject({ start: 1050, end: 1100, retransmitted: true });
    expect(log.pipe).toBe(150);
    // A timeout deems everything not SACKed lost; a second one forgets the SACKs as well.
    log.timedOut(false);
    expect(log.pipe).toBe(0);
    expect(log.lostBytes).toBe(250);
    log.timedOut(true);
    expect(log.lostBytes).toBe(650);
    expect(log.entries.some((s) => s.sacked)).toBe(false);
    log.acked(1700, undefined, 40);
    expect(log.empty).toBe(true);
    expect([log.pipe, log.lostBytes]).toEqual([0, 0]);
  });

  it("waits a reordering window before the DupThresh is reached, and after reordering is seen", () => {
    const log = new SentLog();
    for (let i = 0; i < 4; i++) log.sent(100 * i, 100 * i + 100, i, 100 * i);
    // One segment SACKed above a hole: the hole waits its round trip and a quarter of the minimum
    // round trip (10 ms), 9 ms from now.
    log.acked(0, [{ left: 100, right: 200 }], 41);
    expect(log.detectLoss(41, false, 40)).toEqual({ lost: 0, wait: 9 });
    // The hole arrives late (reordering, not loss): nothing was lost, and reordering is noted.
    log.acked(200, undefined, 42);
    expect(log.reorderingSeen).toBe(true);
    // Now even in recovery a hole waits the window: 300 SACKed 47 ms after it went out leaves
    // 200 (sent 1 ms earlier) 2 + 47 + 10 − 50 = 9 ms before it counts as lost.
    log.acked(200, [{ left: 300, right: 400 }], 50);
    expect(log.detectLoss(50, true, 40)).toEqual({ lost: 0, wait: 9 });
    expect(log.detectLoss(59, true, 40)).toEqual({ lost: 100 });
  });
});
