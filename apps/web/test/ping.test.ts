// The Tools screen's ping run on its own (the browser tests drive it through the page): requests
// go out one per interval on virtual time, replies are matched by sequence, the rest is lost.
import { parsePacket } from "@wiregate/packets";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Ping } from "../src/ping.js";
import type { FromWorker } from "../src/protocol.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function run(count: number, destination = "10.0.0.1") {
  const sent: Uint8Array[] = [];
  const posted: FromWorker[] = [];
  const done = vi.fn();
  const ping = new Ping({
    request: { destination, count, intervalMs: 100, size: 8 },
    source: "10.0.0.2",
    id: 0x1234,
    send: (packet) => sent.push(packet),
    post: (message) => posted.push(message),
    done,
    now: () => Date.now(),
  });
  ping.start();
  return { ping, sent, posted, done };
}

describe("Ping", () => {
  it("sends one echo request per interval and sums up replies and losses", () => {
    const { ping, sent, posted, done } = run(3);
    vi.advanceTimersByTime(250);
    expect(sent.map((p) => parsePacket(p)?.echo)).toMatchObject([
      { type: "request", id: 0x1234, sequence: 1 },
      { type: "request", id: 0x1234, sequence: 2 },
      { type: "request", id: 0x1234, sequence: 3 },
    ]);
    ping.reply(1, "10.0.0.1", 36);
    ping.reply(1, "10.0.0.1", 36); // a duplicate counts once
    ping.reply(3, "10.0.0.1", 36);
    expect(done).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2000); // the wait after the last request
    expect(posted.map((m) => m.type)).toEqual([
      "ping-reply",
      "ping-reply",
      "ping-lost",
      "ping-done",
    ]);
    expect(posted.at(-1)).toMatchObject({
      type: "ping-done",
      summary: { transmitted: 3, received: 2, lossPercent: 100 / 3 },
    });
    expect(done).toHaveBeenCalledTimes(1);
  });

  it("ends as soon as the last reply is in, and stop() ends it at most once", () => {
    const { ping, posted, done } = run(1);
    ping.reply(1, "10.0.0.1", 36);
    expect(posted.at(-1)).toMatchObject({ type: "ping-done", summary: { received: 1 } });
    ping.stop();
    vi.advanceTimersByTime(5000);
    expect(posted.filter((m) => m.type === "ping-done")).toHaveLength(1);
    expect(done).toHaveBeenCalledTimes(1);
  });

  it("reports a request it cannot build and ends", () => {
    const { sent, posted, done } = run(2, "not an address");
    expect(sent).toHaveLength(0);
    expect(posted[0]).toMatchObject({ type: "error" });
    expect(posted.at(-1)).toMatchObject({
      type: "ping-done",
      summary: { transmitted: 0, received: 0 },
    });
    expect(done).toHaveBeenCalledTimes(1);
  });
});
