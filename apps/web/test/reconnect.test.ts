// The tunnel worker's reconnect policy on virtual time: backoff doubling from 0.5 s to 10 s with
// ±20 % jitter, reset by a session that came up, and no retry after a final refusal.

import { LATE_HELLO, RelayError } from "@wiregate/relay-protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Reconnect } from "../src/reconnect.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function reconnect(random: () => number) {
  const retry = vi.fn();
  return { retry, policy: new Reconnect({ retry, random }) };
}

describe("Reconnect", () => {
  it("doubles the delay from 0.5 s up to 10 s and dials again when it is over", () => {
    const { retry, policy } = reconnect(() => 0.5); // no jitter
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const next = policy.failed("transport");
      expect(next?.attempt).toBe(i + 1);
      delays.push(next!.delayMs);
      vi.advanceTimersByTime(next!.delayMs - 1);
      expect(retry).toHaveBeenCalledTimes(i);
      vi.advanceTimersByTime(1);
      expect(retry).toHaveBeenCalledTimes(i + 1);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    policy.reset();
    expect(policy.failed("transport")?.delayMs).toBe(500);
  });

  it("jitters each delay by ±20 %", () => {
    expect(reconnect(() => 0).policy.failed("transport")?.delayMs).toBe(400);
    expect(reconnect(() => 0.999_999).policy.failed("transport")?.delayMs).toBeCloseTo(600, 3);
  });

  it("does not retry a refusal that a retry cannot fix", () => {
    for (const code of [
      "unauthorized",
      "token-expired",
      "forbidden",
      "unknown-upstream",
      "version",
      "bad-hello",
      "bad-frame",
    ]) {
      const { retry, policy } = reconnect(() => 0.5);
      expect(policy.failed(code)).toBeNull();
      expect(policy.attempt).toBe(0);
      vi.advanceTimersByTime(60_000);
      expect(retry).not.toHaveBeenCalled();
    }
    // What one relay says of itself: retried, and within a fleet on the next relay (tunnel.ts).
    for (const code of ["upstream-unreachable", "limit", "transport", "timeout"]) {
      expect(reconnect(() => 0.5).policy.failed(code)).not.toBeNull();
      expect(Reconnect.isFinal(code)).toBe(false);
    }
    expect(Reconnect.isFinal("unauthorized")).toBe(true);
  });

  it("retries a hello the relay refused as late (this page was starved), not one it refused as bad", () => {
    const refusal = (message: string) =>
      new RelayError("bad-hello", `relay refused: bad-hello: ${message}`, {
        type: "error",
        code: "bad-hello",
        message,
      });
    for (const message of Object.values(LATE_HELLO)) {
      expect(Reconnect.codeOf(refusal(message))).toBe("timeout");
      expect(reconnect(() => 0.5).policy.failed(Reconnect.codeOf(refusal(message)))).not.toBeNull();
    }
    expect(Reconnect.codeOf(refusal("expected hello, got stats-request"))).toBe("bad-hello");
    expect(Reconnect.codeOf(new RelayError("unauthorized", "no"))).toBe("unauthorized");
    expect(Reconnect.codeOf(new Error("socket closed"))).toBe("transport");
  });

  it("a cancelled retry never dials, and a new failure replaces the pending retry", () => {
    const { retry, policy } = reconnect(() => 0.5);
    policy.failed("transport");
    policy.cancel();
    vi.advanceTimersByTime(60_000);
    expect(retry).not.toHaveBeenCalled();
    policy.failed("transport"); // 1 s
    policy.failed("transport"); // 2 s, replacing it
    vi.advanceTimersByTime(1_500);
    expect(retry).not.toHaveBeenCalled();
    vi.advanceTimersByTime(500);
    expect(retry).toHaveBeenCalledTimes(1);
  });
});
