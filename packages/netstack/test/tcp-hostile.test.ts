import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StackEvent } from "../src/events.js";
import type { Connection } from "../src/tcp/connection.js";
import { ACK, buildSegment, FIN, RST, SYN } from "../src/tcp/segment.js";
import { A4, B4, Pair } from "./pair.js";
import { concat, firstDifference, pattern } from "./transfer.js";

/** An established connection a → b:80 whose server side collects what it reads. */
function established(pair: Pair, options: { read?: boolean } = {}) {
  pair.b.listen(80, 64);
  const client = pair.a.connect(pair.now, { host: B4, port: 80 }) as Connection;
  const got: Uint8Array[] = [];
  const events: StackEvent[] = [];
  let server: Connection | undefined;
  pair.onEvent = (side, e) => {
    events.push(e);
    if (e.type === "tcp-accepted") server = e.socket as Connection;
    if (e.type === "tcp-readable" && side === "b" && options.read !== false)
      got.push(e.socket.read());
  };
  pair.run(() => server !== undefined && client.state === "established");
  if (!server) throw new Error("no connection");
  return { client, server: server as Connection, got, events };
}

/** A segment as if sent by the client, with its addresses and ports. */
function fromClient(
  c: Connection,
  fields: { seq: number; ack?: number; flags: number; data?: Uint8Array },
) {
  return buildSegment({
    family: 4,
    source: A4,
    destination: B4,
    sourcePort: c.localPort,
    destinationPort: 80,
    seq: fields.seq >>> 0,
    ack: (fields.ack ?? c.rcvNxt) >>> 0,
    flags: fields.flags,
    window: 1000,
    ...(fields.data ? { data: fields.data } : {}),
  });
}

describe("hostile input", () => {
  it("survives arbitrary bytes and mutated segments, counting every refusal", () => {
    const pair = new Pair();
    const { client, server } = established(pair);
    const valid = fromClient(client, { seq: client.sndNxt, flags: ACK, data: pattern(40) });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 120 }),
          fc
            .tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }))
            .map(([i, v]) => {
              const p = valid.slice();
              p[i] = v;
              return p;
            }),
        ),
        (bytes) => {
          expect(() => pair.inject("b", bytes)).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
    const s = pair.b.stats;
    expect(s.malformed + s.badChecksum + s.notForUs + s.unsupportedProtocol).toBeGreaterThan(0);
    expect(server.state).not.toBe("closed");
  });

  it("drops a segment with a bad checksum and counts it", () => {
    const pair = new Pair();
    const { client, got } = established(pair);
    const p = fromClient(client, { seq: client.sndNxt, flags: ACK, data: pattern(10) });
    p[p.length - 1]! ^= 1;
    pair.inject("b", p);
    expect(pair.b.stats.badChecksum).toBe(1);
    expect(got).toEqual([]);
  });

  it("reassembles overlapping, duplicated and reordered pieces into exactly the stream", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3999 }), fc.integer({ min: 1, max: 900 })), {
          maxLength: 40,
        }),
        fc.integer(),
        (pieces, seed) => {
          const pair = new Pair({ seed });
          const { client, server, got } = established(pair);
          const stream = pattern(4000, seed);
          // Always cover everything once, in a scrambled order with random overlaps.
          const all = [...pieces, [0, 4000] as [number, number]].map(
            ([at, n]) => [at, Math.min(n, 4000 - at)] as const,
          );
          for (let i = all.length - 1; i > 0; i--) {
            const j = Math.abs(seed + i * 7919) % (i + 1);
            [all[i], all[j]] = [all[j]!, all[i]!];
          }
          for (const [at, n] of all) {
            const data = stream.subarray(at, at + n);
            pair.inject("b", fromClient(client, { seq: client.sndNxt + at, flags: ACK, data }));
          }
          expect(firstDifference(concat(got), stream)).toBe(-1);
          expect(server.outOfOrder.bytes).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("ignores segments outside the window and answers them with an ACK", () => {
    const pair = new Pair();
    const { client, server, got } = established(pair);
    const before = pair.b.stats.outOfWindow;
    pair.inject(
      "b",
      fromClient(client, { seq: client.sndNxt + 10_000_000, flags: ACK, data: pattern(10) }),
    );
    pair.inject(
      "b",
      fromClient(client, { seq: client.sndNxt - 5000, flags: ACK, data: pattern(10) }),
    );
    expect(pair.b.stats.outOfWindow).toBe(before + 2);
    expect(got).toEqual([]);
    expect(server.state).toBe("established");
  });

  it("challenges an in-window RST or SYN instead of obeying it (RFC 5961), rate-limited", () => {
    const pair = new Pair();
    const { client, server } = established(pair);
    pair.inject("b", fromClient(client, { seq: client.sndNxt + 100, flags: RST }));
    pair.inject("b", fromClient(client, { seq: client.sndNxt + 100, flags: SYN }));
    pair.inject("b", fromClient(client, { seq: client.sndNxt + 1e7, flags: RST }));
    expect(server.state).toBe("established");
    expect(pair.b.stats.challengeAcks).toBe(2);
    for (let i = 0; i < 50; i++)
      pair.inject("b", fromClient(client, { seq: client.sndNxt + 1, flags: RST }));
    expect(pair.b.stats.challengeAcks).toBe(10);
    expect(pair.b.stats.challengeAcksSuppressed).toBe(42);
    // The real client answers a challenge ACK as RFC 5961 expects: the connection carries on.
    expect(server.state).toBe("established");
    // An exact RST still resets: that is what a real peer's RST looks like.
    const closed: StackEvent[] = [];
    pair.onEvent = (_s, e) => closed.push(e);
    pair.inject("b", fromClient(client, { seq: client.sndNxt, flags: RST }));
    expect(closed).toContainEqual({ type: "tcp-closed", socket: server, error: "reset" });
  });

  it("rejects an ACK for data never sent and one too old to be a duplicate", () => {
    const pair = new Pair();
    const { client, server } = established(pair);
    const una = server.sndUna;
    pair.inject(
      "b",
      fromClient(client, {
        seq: client.sndNxt,
        ack: server.sndNxt + 5000,
        flags: ACK,
        data: pattern(5),
      }),
    );
    pair.inject(
      "b",
      fromClient(client, {
        seq: client.sndNxt,
        ack: server.sndUna - 2_000_000,
        flags: ACK,
        data: pattern(5),
      }),
    );
    expect(server.sndUna).toBe(una);
    expect(server.readableLength).toBe(0);
    expect(pair.b.stats.challengeAcks).toBe(1);
  });

  it("holds a zero window for ten minutes with probes, then completes", () => {
    const pair = new Pair({ delay: 20 });
    const tcp = { receiveBuffer: 32 * 1024, sendBuffer: 64 * 1024 };
    const p2 = new Pair({ delay: 20 }, { tcp }, { tcp });
    void pair;
    const { client, server, events } = established(p2, { read: false });
    const data = pattern(200_000);
    let offset = client.write(data);
    p2.onEvent = (_s, e) => {
      events.push(e);
      if (e.type === "tcp-writable") offset += client.write(data.subarray(offset));
    };
    const start = p2.now;
    p2.run(() => p2.now - start > 600_000, start + 600_001);
    expect(client.state).toBe("established");
    expect(server.readableLength).toBe(32 * 1024);
    expect(client.sndWnd).toBe(0);
    expect(events.filter((e) => e.type === "tcp-closed")).toEqual([]);
    // The reader wakes up: everything arrives.
    const got: Uint8Array[] = [server.read()];
    p2.onEvent = (side, e) => {
      if (e.type === "tcp-writable") offset += client.write(data.subarray(offset));
      if (e.type === "tcp-readable" && side === "b") got.push(server.read());
    };
    p2.flush();
    p2.run(() => concat(got).length === data.length, p2.now + 600_000);
    expect(firstDifference(concat(got), data)).toBe(-1);
  });

  it("bounds a SYN flood by the backlog, counts the drops, and still accepts afterwards", () => {
    const pair = new Pair({ delay: 5 });
    pair.b.listen(80, 64);
    for (let i = 0; i < 5000; i++) {
      const syn = buildSegment({
        family: 4,
        source: `10.0.${(i >> 8) & 0xff}.${i & 0xff}`,
        destination: B4,
        sourcePort: 1024 + (i % 60000),
        destinationPort: 80,
        seq: i * 7919,
        ack: 0,
        flags: SYN,
        window: 1000,
      });
      pair.b.receive(pair.now, syn);
    }
    pair.flush();
    expect(pair.b.tcp.connectionCount).toBe(64);
    expect(pair.b.stats.backlogFull).toBe(5000 - 64);
    // Half-open entries give up after their SYN-ACK retries; then a real client gets in.
    pair.run(() => pair.b.tcp.connectionCount === 0, 1_000_000);
    let accepted = false;
    pair.onEvent = (_s, e) => {
      if (e.type === "tcp-accepted") accepted = true;
    };
    pair.a.connect(pair.now, { host: B4, port: 80 });
    pair.run(() => accepted);
    expect(accepted).toBe(true);
  });

  it("answers a FIN retransmitted into TIME-WAIT with an ACK and stays in TIME-WAIT", () => {
    const pair = new Pair();
    const { client, server } = established(pair);
    client.close();
    pair.run(() => server.state === "close-wait");
    server.close();
    pair.run(() => client.state === "time-wait");
    const sent = pair.a.stats.sent;
    pair.inject(
      "a",
      buildSegment({
        family: 4,
        source: B4,
        destination: A4,
        sourcePort: 80,
        destinationPort: client.localPort,
        seq: client.rcvNxt - 1,
        ack: client.sndNxt,
        flags: FIN | ACK,
        window: 1000,
      }),
    );
    expect(pair.a.stats.sent).toBe(sent + 1);
    expect(client.state).toBe("time-wait");
  });
});
