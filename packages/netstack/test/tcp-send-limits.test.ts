/**
 * What held a sender back (`TcpSocket.info.limitedMs`), in virtual time over a 100 ms round trip
 * with no bandwidth limit: a send buffer smaller than the window the path allows, a receive
 * window smaller than that, and neither (slow start: the congestion window).
 */
import { describe, expect, it } from "vitest";
import type { TcpConfig } from "../src/tcp/config.js";
import type { SendLimitTimes } from "../src/tcp/send-limits.js";
import { Pair } from "./pair.js";
import { firstDifference, pattern, startTransfer } from "./transfer.js";

const RTT = 100;

function upload(size: number, client: Partial<TcpConfig>, server: Partial<TcpConfig>) {
  const pair = new Pair({ delay: RTT / 2 }, { tcp: client }, { tcp: server });
  const bytes = pattern(size);
  const t = startTransfer(pair, bytes);
  const start = pair.now;
  expect(pair.run(() => t.ended.b === true)).toBe(true);
  expect(firstDifference(t.bytes(), bytes)).toBe(-1);
  const info = t.client.info;
  return { info, ms: pair.now - start, share: shares(info.limitedMs) };
}

/** Each limit's share of the time the sender had data out or waiting. */
function shares(ms: SendLimitTimes): SendLimitTimes {
  const busy = ms.cwnd + ms.rwnd + ms.sndbuf + ms.app;
  return {
    cwnd: ms.cwnd / busy,
    rwnd: ms.rwnd / busy,
    sndbuf: ms.sndbuf / busy,
    app: ms.app / busy,
  };
}

describe("TcpSocket.info: what limited the sender", () => {
  it("a send buffer smaller than the path's window: send-buffer-limited, a buffer per round trip", () => {
    const r = upload(4_000_000, { sendBuffer: 64 * 1024 }, { receiveBuffer: 1024 * 1024 });
    expect(r.share.sndbuf).toBeGreaterThan(0.8);
    // One buffer per round trip, at most: the sender could not keep more in flight.
    const perRtt = (4_000_000 / r.ms) * RTT;
    expect(perRtt).toBeLessThanOrEqual(64 * 1024);
    expect(perRtt).toBeGreaterThan(0.8 * 64 * 1024);
    expect(r.info.retransmissions).toBe(0);
  });

  it("with a larger send buffer the same path carries the receive window per round trip", () => {
    const r = upload(4_000_000, { sendBuffer: 1024 * 1024 }, { receiveBuffer: 256 * 1024 });
    expect(r.share.rwnd).toBeGreaterThan(0.6);
    expect(r.share.sndbuf).toBeLessThan(0.1);
    const perRtt = (4_000_000 / r.ms) * RTT;
    expect(perRtt).toBeGreaterThan(0.7 * 256 * 1024); // slow start took the first 400 ms
  });

  it("a short transfer on a wide path: the congestion window (slow start)", () => {
    const big = { sendBuffer: 4 * 1024 * 1024, receiveBuffer: 4 * 1024 * 1024 };
    const r = upload(300_000, big, big);
    expect(r.share.cwnd).toBeGreaterThan(0.6);
    expect(r.info.cwnd).toBeGreaterThan(r.info.mss * 10);
    expect(r.info.srtt).toBeCloseTo(RTT, -1);
  });
});
