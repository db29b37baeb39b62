// The message stream's sender on its own, with a writer whose writes complete when the test says:
// one write per turn, and the queue limit (writes not completed plus this turn's messages) drops
// and counts instead of growing.
import { describe, expect, it } from "vitest";
import { StreamMessageReader } from "../src/message-stream.js";
import { StreamSender } from "../src/stream-sender.js";

/** A writer that records each write and completes it when told. */
function heldWriter() {
  const writes: Uint8Array[] = [];
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    writes,
    writer: {
      write(chunk: Uint8Array) {
        writes.push(chunk);
        return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
      },
    },
    /** Completes the oldest write and lets its continuation run. */
    async complete() {
      pending.shift()!.resolve();
      await Promise.resolve();
      await Promise.resolve();
    },
    async fail() {
      pending.shift()!.reject(new Error("reset"));
      await Promise.resolve();
      await Promise.resolve();
    },
  };
}

/** A turn that ends when the test says. */
function manualTurns() {
  let queued: (() => void)[] = [];
  return {
    schedule: (flush: () => void) => queued.push(flush),
    endTurn() {
      const run = queued;
      queued = [];
      for (const flush of run) flush();
    },
  };
}

const message = (n: number, size: number) => new Uint8Array(size).fill(n);

function messagesOf(writes: Uint8Array[]): Uint8Array[] {
  const reader = new StreamMessageReader(65535);
  return writes.flatMap((w) => reader.push(w)).map((r) => (r.ok ? r.message : new Uint8Array()));
}

describe("StreamSender", () => {
  it("writes what was sent in one turn in one write, framed with 2-byte lengths", () => {
    const held = heldWriter();
    const turns = manualTurns();
    const sender = new StreamSender(held.writer, { schedule: turns.schedule });
    for (let i = 1; i <= 5; i++) sender.send(message(i, 100 * i));
    expect(held.writes).toHaveLength(0);
    turns.endTurn();
    expect(held.writes).toHaveLength(1);
    expect(held.writes[0]!.length).toBe(5 * 2 + 1500);
    expect(messagesOf(held.writes)).toEqual([1, 2, 3, 4, 5].map((i) => message(i, 100 * i)));
    expect({ sent: sender.sent, writes: sender.writes, drops: sender.drops }).toEqual({
      sent: 5,
      writes: 1,
      drops: 0,
    });
  });

  it("writes once per turn without waiting for the write before, in order", async () => {
    const held = heldWriter();
    const turns = manualTurns();
    const sender = new StreamSender(held.writer, { schedule: turns.schedule });
    for (let turn = 0; turn < 4; turn++) {
      for (let i = 0; i < 10; i++) sender.send(message(turn * 10 + i, 10));
      turns.endTurn(); // no write completes meanwhile
    }
    expect(held.writes).toHaveLength(4);
    expect(messagesOf(held.writes).map((m) => m[0])).toEqual([...Array(40).keys()]);
    expect(sender.queued).toBe(40 * 12);
    await held.complete();
    expect(sender.queued).toBe(30 * 12);
  });

  it("drops beyond its byte limit, counts it, and takes messages again once the write is taken", async () => {
    const held = heldWriter();
    const turns = manualTurns();
    const sender = new StreamSender(held.writer, { maxBytes: 10_000, schedule: turns.schedule });
    let taken = 0;
    for (let i = 0; i < 100; i++) if (sender.send(message(i, 998))) taken++;
    // 1,000 bytes each with the header: ten fit.
    expect(taken).toBe(10);
    expect(sender.drops).toBe(90);
    expect(sender.queued).toBe(10_000);
    turns.endTurn();
    // In flight counts too: nothing more fits until the transport takes the write.
    expect(sender.send(message(0, 1))).toBe(false);
    await held.complete();
    expect(sender.queued).toBe(0);
    expect(sender.send(message(0, 998))).toBe(true);
    expect(sender.drops).toBe(91);
  });

  it("drops everything after a failed write", async () => {
    const held = heldWriter();
    const turns = manualTurns();
    const sender = new StreamSender(held.writer, { schedule: turns.schedule });
    sender.send(message(1, 10));
    turns.endTurn();
    sender.send(message(2, 10));
    await held.fail();
    expect(sender.drops).toBe(1);
    expect(sender.send(message(3, 10))).toBe(false);
    expect(sender.drops).toBe(2);
    turns.endTurn();
    expect(held.writes).toHaveLength(1);
  });

  it("refuses what the wire format cannot carry", () => {
    const sender = new StreamSender(heldWriter().writer);
    expect(() => sender.send(new Uint8Array(0))).toThrow(RangeError);
    expect(() => sender.send(new Uint8Array(65536))).toThrow(RangeError);
    expect(() => new StreamSender(heldWriter().writer, { maxBytes: 2 })).toThrow(RangeError);
  });

  it("flushes at the end of the turn by default (Node: setImmediate)", async () => {
    const held = heldWriter();
    const sender = new StreamSender(held.writer);
    sender.send(message(1, 10));
    sender.send(message(2, 10));
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.writes).toHaveLength(1);
    expect(messagesOf(held.writes)).toHaveLength(2);
  });
});
