import { describe, expect, it } from "vitest";
import { DEFAULT_TCP_CONFIG } from "../src/tcp/config.js";
import type { Connection } from "../src/tcp/connection.js";
import { B4, Pair } from "./pair.js";

const FULL = DEFAULT_TCP_CONFIG.sendBuffer + DEFAULT_TCP_CONFIG.receiveBuffer;
const FALLBACK = 64 * 1024;

describe("buffer budget", () => {
  it("gives full-size buffers while the budget lasts, the fallback after, and frees on close", () => {
    const pair = new Pair({}, {}, { bufferBudget: { total: 2 * FULL, fallback: FALLBACK } });
    const accepted: Connection[] = [];
    pair.onEvent = (side, e) => {
      if (side === "b" && e.type === "tcp-accepted") accepted.push(e.socket as Connection);
    };
    pair.b.listen(80, 64);
    const open = (n: number) => {
      const want = accepted.length + n;
      for (let i = 0; i < n; i++) pair.a.connect(pair.now, { host: B4, port: 80 });
      expect(pair.run(() => accepted.length === want)).toBe(true);
    };
    const sizes = () =>
      accepted.map((c) => [c.sendQueue.capacity, c.receiveQueue.capacity, c.receiveWindow()]);
    const full = [DEFAULT_TCP_CONFIG.sendBuffer, DEFAULT_TCP_CONFIG.receiveBuffer];

    open(3);
    expect(sizes()).toEqual([
      [...full, DEFAULT_TCP_CONFIG.receiveBuffer],
      [...full, DEFAULT_TCP_CONFIG.receiveBuffer],
      [FALLBACK, FALLBACK, FALLBACK],
    ]);
    expect(pair.b.tcp.bufferCapacity).toBe(2 * FULL + 2 * FALLBACK);
    // A closed connection gives its share back: the next one is full-size again.
    accepted[0]!.abort();
    pair.flush();
    expect(pair.b.tcp.connectionCount).toBe(2);
    open(1);
    expect(sizes()[3]).toEqual([...full, DEFAULT_TCP_CONFIG.receiveBuffer]);
  });
});
