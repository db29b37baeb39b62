import { describe, expect, it } from "vitest";
import { GoTimers } from "../src/wireguard-go-timers.js";

/** Timers whose actions are recorded; a retry arms the retransmit timer again, as the peer does. */
function recorded() {
  const calls: string[] = [];
  let jitterDraws = 0;
  let now = 0;
  const timers: GoTimers = new GoTimers(
    {
      retransmit: () => 100,
      newHandshake: () => {
        jitterDraws++;
        return 200;
      },
    },
    {
      sendHandshakeInitiation: (isRetry) => {
        calls.push(isRetry ? "retry" : "initiation");
        if (!isRetry) timers.resetAttempts();
        timers.handshakeInitiated(now);
      },
      sendKeepalive: () => calls.push("keepalive"),
      debug: (text) => calls.push(text),
    },
  );
  const tick = (at: number) => {
    now = at;
    timers.tick(at);
  };
  return { timers, calls, tick, jitterDraws: () => jitterDraws };
}

describe("the wireguard-go model's timers", () => {
  it("retries a handshake every 5 s + jitter and gives up after 20 attempts", () => {
    const { timers, calls, tick } = recorded();
    timers.handshakeInitiated(0);
    let retries = 0;
    for (let deadline = timers.deadline(); deadline !== undefined; deadline = timers.deadline()) {
      expect(deadline).toBe((retries + 1) * 5_100);
      tick(deadline);
      retries = calls.filter((c) => c === "retry").length;
    }
    expect(retries).toBe(19); // the first initiation and 19 retries
    expect(calls.at(-1)).toBe("Handshake did not complete after 20 attempts, giving up");
  });

  it("a completed handshake stops the retransmit timer and counts attempts again", () => {
    const { timers, calls, tick } = recorded();
    timers.handshakeInitiated(0);
    tick(5_100);
    expect(calls).toContain("Handshake did not complete after 5 seconds, retrying (try 2)");
    timers.handshakeComplete();
    expect(timers.deadline()).toBeUndefined();
    timers.handshakeInitiated(20_000);
    tick(25_100);
    expect(calls.at(-2)).toBe("Handshake did not complete after 5 seconds, retrying (try 2)");
  });

  it("sends one keepalive after received data, and another if more data came meanwhile", () => {
    const { timers, calls, tick } = recorded();
    timers.dataReceived(0);
    timers.dataReceived(1_000);
    expect(timers.deadline()).toBe(10_000);
    tick(10_000);
    expect(timers.deadline()).toBe(20_000);
    tick(20_000);
    expect(calls).toEqual(["keepalive", "keepalive"]);
    expect(timers.deadline()).toBeUndefined();
  });

  it("initiates 15 s + jitter after unanswered data, drawing jitter only when it arms", () => {
    const { timers, calls, tick, jitterDraws } = recorded();
    timers.dataSent(0);
    timers.dataSent(3_000);
    expect(jitterDraws()).toBe(1);
    expect(timers.deadline()).toBe(15_200);
    timers.anyAuthenticatedPacketReceived();
    expect(timers.deadline()).toBeUndefined();
    timers.dataSent(20_000);
    tick(35_200);
    expect(calls).toEqual([
      "Retrying handshake because we stopped hearing back after 15 seconds",
      "initiation",
    ]);
  });
});
