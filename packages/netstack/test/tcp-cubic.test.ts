/**
 * CUBIC's window (RFC 9438) in virtual time: β = 0.7 at a congestion event, fast convergence, the
 * cubic curve back to W_max in K seconds (concave below it, convex above), never slower than Reno
 * (the Reno-friendly region), and a timeout's window of one segment.
 */
import { describe, expect, it } from "vitest";
import { CongestionControl } from "../src/tcp/congestion.js";
import { CUBIC_BETA, Cubic } from "../src/tcp/cubic.js";

const MSS = 1000;

/** Acknowledges a full window per round trip from `from` ms for `ms` ms; the window each time. */
function run(cc: CongestionControl, from: number, ms: number, rtt: number): number[] {
  const windows: number[] = [];
  for (let now = from + rtt; now <= from + ms; now += rtt) {
    // One ACK per segment of the window, as a receiver acknowledging each segment sends.
    const segments = Math.floor(cc.cwnd / MSS);
    for (let i = 0; i < segments; i++) cc.onAck(MSS, 0, cc.cwnd, now, rtt);
    windows.push(cc.cwnd);
  }
  return windows;
}

describe("CUBIC (RFC 9438)", () => {
  it("falls to β = 0.7 of the flight at a congestion event, and lower again when W_max fell", () => {
    const cubic = new Cubic(MSS);
    expect(cubic.reduce(100 * MSS)).toBe(70 * MSS);
    expect(cubic.wMax).toBe(100 * MSS);
    // A second event below the last W_max: fast convergence releases bandwidth (§4.7).
    expect(cubic.reduce(80 * MSS)).toBe(56 * MSS);
    expect(cubic.wMax).toBe(80 * MSS * ((1 + CUBIC_BETA) / 2));
    // Never below two segments.
    expect(cubic.reduce(MSS)).toBe(2 * MSS);
  });

  it("climbs back to W_max in K seconds along the cubic curve, concave then convex", () => {
    // A window of 1000 segments on a 100 ms path (the cubic region, not Reno's), then a loss.
    const rtt = 100;
    const cc = lossAt(1000);
    expect(cc.cwnd).toBe(700 * MSS);
    // K = ∛(W_max × (1 − β) / C) = ∛(1000 × 0.3 / 0.4) ≈ 9.09 s.
    const windows = run(cc, 0, 14_000, rtt);
    const at = (ms: number) => windows[Math.round(ms / rtt) - 1]!;
    expect(at(9100)).toBeGreaterThan(990 * MSS);
    expect(at(9100)).toBeLessThan(1010 * MSS);
    // Concave below W_max: the first 3 s gain more than the 3 s before K.
    expect(at(3000) - 700 * MSS).toBeGreaterThan(2 * (at(9000) - at(6000)));
    // Convex above it: the 2.4 s after K gain less than the 2.4 s after those.
    expect(4 * (at(11_500) - at(9100))).toBeLessThan(at(13_900) - at(11_500));
  });

  it("grows as Reno would on a short path (the Reno-friendly region)", () => {
    // 20 segments on a 1 ms path: the curve needs K ≈ 2.5 s, Reno-friendly growth is per round trip.
    const cc = lossAt(20);
    const windows = run(cc, 0, 10, 1);
    const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
    // α ≈ 0.53 segment per round trip (§4.3: Reno's average rate with β = 0.7), where the curve
    // alone would have added less than a tenth of a segment.
    expect(windows[4]! / MSS).toBeCloseTo(14 + 5 * alpha, 0);
    expect(windows[9]! / MSS).toBeCloseTo(14 + 10 * alpha, 0);
  });

  it("after a timeout: one segment, ssthresh at β of the flight", () => {
    const cc = new CongestionControl(MSS, true);
    cc.onTimeout(100 * MSS);
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
  });
});

/** A SACK sender whose window of `segments` just met a loss, out of recovery again. */
function lossAt(segments: number): CongestionControl {
  const cc = new CongestionControl(MSS, true);
  cc.sack = true;
  cc.cwnd = segments * MSS;
  cc.enterRecovery(segments * MSS, 0);
  cc.onAck(MSS, 1, cc.cwnd, 0, 0); // the ACK that ends the recovery (RFC 6675 §5 step (A))
  expect(cc.inRecovery).toBe(false);
  return cc;
}
