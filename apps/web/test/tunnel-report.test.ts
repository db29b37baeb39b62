// What the tunnel worker reports unasked, on virtual time: trace events batched per 50 ms with their
// wall-clock time, the status once a second from what the tunnel has then, the last relay errors.
import type { PeerStatus, TraceEvent } from "@wiregate/core";
import type { StatsFrame } from "@wiregate/relay-protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FromWorker } from "../src/protocol.js";
import { type StatusSource, TunnelReport } from "../src/tunnel-report.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function report(source: () => StatusSource | undefined = () => undefined) {
  const posted: FromWorker[] = [];
  const r = new TunnelReport({
    post: (m) => posted.push(m),
    now: () => Date.now(),
    timeOrigin: 1_000_000,
    source,
  });
  return { r, posted };
}

const event = (time: number) => ({ time, kind: "handshake-state", level: "info" }) as TraceEvent;

describe("TunnelReport", () => {
  it("posts the events of 50 ms in one message, each with its wall-clock time", () => {
    const { r, posted } = report();
    r.events([event(1)]);
    r.events([]);
    vi.advanceTimersByTime(30);
    r.events([event(31), event(32)]);
    expect(posted).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(posted).toHaveLength(1);
    const batch = posted[0] as Extract<FromWorker, { type: "events" }>;
    expect(batch.events.map((e) => e.at)).toEqual([1_000_001, 1_000_031, 1_000_032]);
    r.events([event(60)]);
    vi.advanceTimersByTime(50);
    expect(posted).toHaveLength(2);
  });

  it("posts the status every second while started, from the tunnel's state at that time", async () => {
    let peer: PeerStatus | undefined;
    const relay = { type: "stats" } as unknown as StatsFrame;
    const conn = { stats: async () => relay, receiveDrops: 3, streamed: { dropped: 5 } };
    const { r, posted } = report(() => ({ conn, peerStatus: () => peer }));
    r.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(posted).toEqual([
      {
        type: "status",
        now: Date.now(),
        peers: [],
        relay,
        receiveDrops: 3,
        streamDrops: 5,
        relayErrors: [],
      },
    ]);
    peer = { handshake: "idle" } as unknown as PeerStatus;
    await vi.advanceTimersByTimeAsync(1000);
    expect(posted[1]).toMatchObject({ type: "status", peers: [peer] });
    r.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(posted).toHaveLength(2);
  });

  it("posts no status before there is a tunnel, and one without relay stats it cannot get", async () => {
    let source: StatusSource | undefined;
    const { r, posted } = report(() => source);
    await r.status();
    expect(posted).toEqual([]);
    source = {
      conn: {
        stats: () => Promise.reject(new Error("closed")),
        receiveDrops: 0,
        streamed: { dropped: 0 },
      },
      peerStatus: () => undefined,
    };
    await r.status();
    expect(posted).toEqual([
      {
        type: "status",
        now: Date.now(),
        peers: [],
        receiveDrops: 0,
        streamDrops: 0,
        relayErrors: [],
      },
    ]);
  });

  it("keeps the last 10 relay errors, and forgets them on a new start", async () => {
    const { r, posted } = report(() => ({ conn: undefined, peerStatus: () => undefined }));
    for (let i = 1; i <= 12; i++) r.relayError({ code: "limit", message: `${i}` });
    await r.status();
    const errors = (posted[0] as Extract<FromWorker, { type: "status" }>).relayErrors;
    expect(errors).toEqual(Array.from({ length: 10 }, (_, i) => `limit: ${i + 3}`));
    r.start();
    r.stop();
    await r.status();
    expect((posted[1] as Extract<FromWorker, { type: "status" }>).relayErrors).toEqual([]);
  });

  it("posts the browser transport's own losses, or why it has none, and nothing over WebSocket", async () => {
    const losses = { droppedIncoming: 7, expiredOutgoing: 0, lostOutgoing: 1 };
    let browserLosses: StatusSource["browserLosses"];
    const { r, posted } = report(() => ({
      conn: undefined,
      peerStatus: () => undefined,
      ...(browserLosses ? { browserLosses } : {}),
    }));
    const last = () => posted.at(-1) as Extract<FromWorker, { type: "status" }>;
    await r.status();
    expect("browserLosses" in last()).toBe(false);
    browserLosses = async () => "this browser's WebTransport has no getStats()";
    await r.status();
    expect(last().browserLosses).toBe("this browser's WebTransport has no getStats()");
    browserLosses = async () => losses;
    await r.status();
    expect(last().browserLosses).toEqual(losses);
  });
});
