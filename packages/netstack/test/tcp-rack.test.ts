/**
 * RACK-TLP on the send side (RFC 8985), in virtual time: a lost retransmission is found and resent
 * about a round trip later instead of after a timeout; a lost tail is found by a loss probe two
 * round trips after it went out; reordering, once seen, costs no spurious retransmissions.
 */
import { describe, expect, it } from "vitest";
import { MIN_RTO } from "../src/tcp/rtt.js";
import { FIN, SYN } from "../src/tcp/segment.js";
import { Pair } from "./pair.js";
import { type Seen, tapped } from "./tap.js";
import { firstDifference, pattern, startTransfer } from "./transfer.js";

const RTT = 40; // two 20 ms hops
const SIZE = 400_000;

/**
 * SIZE bytes from a to b over a link that drops the client's data segments `drop` picks (it is told
 * which copy of its sequence number each one is, and the offset of its data in the stream);
 * returns when each copy of each went out.
 */
function transfer(drop: (s: Seen, copy: number, offset: number) => boolean) {
  const copies = new Map<number, number[]>();
  let iss = 0;
  const { pair } = tapped({ delay: RTT / 2 }, (s) => {
    if (s.from !== "a") return false;
    if (s.seg.flags & SYN) iss = s.seg.seq;
    if (s.seg.data.length === 0 && !(s.seg.flags & FIN)) return false;
    const times = copies.get(s.seg.seq) ?? [];
    copies.set(s.seg.seq, [...times, s.at]);
    return drop(s, times.length + 1, (s.seg.seq - iss - 1) >>> 0);
  });
  const bytes = pattern(SIZE);
  const t = startTransfer(pair, bytes);
  expect(pair.run(() => t.closed.a !== undefined && t.closed.b !== undefined)).toBe(true);
  expect(firstDifference(t.bytes(), bytes)).toBe(-1);
  return { copies, stats: pair.a.stats };
}

describe("RACK-TLP (RFC 8985)", () => {
  it("finds a lost retransmission by the data sent after it, without a timeout", () => {
    let segments = 0;
    let target: number | undefined;
    const { copies, stats } = transfer((s, copy) => {
      if (copy === 1 && ++segments === 30) target = s.seg.seq;
      return s.seg.seq === target && copy <= 2; // its first transmission and first retransmission
    });
    const times = copies.get(target!)!;
    expect(times).toHaveLength(3);
    expect(stats.timeouts).toBe(0);
    // The third copy follows the lost second about a round trip later, long before a timeout.
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(RTT);
    expect(times[2]! - times[1]!).toBeLessThan(2 * RTT);
  });

  it("finds a lost tail with a loss probe about two round trips later, before any timeout", () => {
    // The last three segments (the last with the FIN), first transmissions only: nothing sent
    // after them can be delivered to reveal their loss.
    const tail = new Set<number>();
    const { copies, stats } = transfer((s, copy, offset) => {
      const end = offset + s.seg.data.length;
      if (copy === 1 && s.seg.data.length > 0 && end > SIZE - 3 * 1000) tail.add(s.seg.seq);
      return copy === 1 && tail.has(s.seg.seq);
    });
    expect(tail.size).toBe(3);
    expect(stats.timeouts).toBe(0);
    expect(stats.lossProbes).toBe(1);
    for (const seq of tail) {
      const times = copies.get(seq)!;
      expect(times).toHaveLength(2);
      // Two round trips without an ACK send the probe; its ACK shows the rest lost. A timeout
      // would come no sooner than MIN_RTO after the last ACK, a round trip after they went out.
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(2 * RTT);
      expect(times[1]! - times[0]!).toBeLessThan(RTT + MIN_RTO);
    }
  });

  it("resends nothing on a link that only reorders, once it has seen reordering", () => {
    // Up to 4 ms of extra delay per packet each way: segments overtake each other all the time.
    const pair = new Pair({ delay: RTT / 2, jitter: 4, seed: 3 });
    const bytes = pattern(2_000_000);
    const t = startTransfer(pair, bytes);
    expect(pair.run(() => t.closed.a !== undefined && t.closed.b !== undefined)).toBe(true);
    expect(firstDifference(t.bytes(), bytes)).toBe(-1);
    expect(pair.a.stats.outOfOrderDropped + pair.b.stats.outOfOrderDropped).toBe(0);
    // The first reordering may pass for a loss (RFC 8985 §6.2: no window until reordering is
    // seen in recovery); after that, none does.
    expect(pair.a.stats.retransmissions).toBeLessThanOrEqual(1);
    expect(pair.a.stats.timeouts).toBe(0);
  });
});
