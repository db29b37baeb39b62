/**
 * Netstack polls a burst of arrivals once (the clock's `afterInput`), so a burst gets one ACK:
 * a raw Stack sends a bulk transfer, each round's segments reach the Netstack together, and we
 * count what the Netstack answers per round.
 */
import { deterministicRandom } from "@wiregate/core";
import { describe, expect, it } from "vitest";
import { parseIpPacket } from "../src/ip.js";
import { type Clock, Netstack, type TcpConnection } from "../src/netstack.js";
import { Stack } from "../src/stack.js";
import { ACK, parseSegment, type Segment } from "../src/tcp/segment.js";
import type { TcpSocket } from "../src/tcp/socket.js";
import { A4, B4 } from "./pair.js";
import { concat, firstDifference, pattern } from "./transfer.js";

/** Time stands still; timers never fire (none is needed without loss); input runs on demand. */
class BurstClock implements Clock {
  readonly pending: (() => void)[] = [];
  now = () => 0;
  setTimeout = () => 0;
  clearTimeout = () => {};
  afterInput = (fn: () => void) => void this.pending.push(fn);
  runAfterInput(): void {
    for (const fn of this.pending.splice(0)) fn();
  }
}

const settle = () => new Promise((r) => setImmediate(r));

function segmentOf(packet: Uint8Array): Segment {
  const parsed = parseIpPacket(packet);
  if (!parsed.ok) throw new Error(parsed.reason);
  const seg = parseSegment(parsed.datagram.packet, parsed.datagram.offset);
  if (!seg.ok) throw new Error(seg.reason);
  return seg.segment;
}

async function setUp() {
  const clock = new BurstClock();
  const toServer: Uint8Array[] = [];
  const client = new Netstack({
    addresses: [A4],
    clock,
    random: deterministicRandom("client"),
    send: (p) => toServer.push(p),
  });
  const server = new Stack({ addresses: [B4], random: deterministicRandom("server") });
  server.listen(80);
  let accepted: TcpSocket | undefined;
  /** Delivers the client's packets to the server, and all the server sends back as one burst. */
  const round = async (): Promise<Uint8Array[]> => {
    for (const p of toServer.splice(0)) server.receive(0, p);
    const out = server.poll(0);
    for (const e of out.events) if (e.type === "tcp-accepted") accepted = e.socket;
    for (const p of out.packets) {
      client.receive(p);
      await Promise.resolve(); // microtasks run between two arrivals, as between two I/O callbacks
    }
    await settle();
    clock.runAfterInput();
    await settle();
    return out.packets;
  };
  let conn: TcpConnection | undefined;
  void client.connect({ host: B4, port: 80 }).then((c) => (conn = c));
  await settle();
  while (conn === undefined || accepted === undefined) await round();
  return { clock, toServer, conn, accepted, round, server };
}

describe("Netstack: one ACK per burst of arrivals", () => {
  it("acknowledges each burst of up to 64 segments with one ACK covering all of it", async () => {
    const { toServer, conn, accepted, round } = await setUp();
    const data = pattern(3_000_000);
    let written = accepted.write(data);
    const chunks: Uint8Array[] = [];
    const reading = (async () => {
      for await (const c of conn.readable as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
    })();
    let bursts = 0;
    let segments = 0;
    let acks = 0;
    while (chunks.reduce((n, c) => n + c.length, 0) < data.length) {
      const sent = await round();
      written += accepted.write(data.subarray(written));
      const inBurst = sent.map(segmentOf).filter((seg) => seg.data.length > 0);
      if (inBurst.length === 0) continue;
      bursts++;
      segments += inBurst.length;
      const answers = toServer.map(segmentOf);
      if (answers.length === 0) {
        expect(inBurst.length).toBe(1); // a lone segment waits for the delayed-ACK timer
        continue;
      }
      // The last answer acknowledges the whole burst; each 64 segments of it got one ACK more.
      const last = inBurst[inBurst.length - 1]!;
      expect(answers.every((seg) => seg.flags === ACK && seg.data.length === 0)).toBe(true);
      expect(answers[answers.length - 1]!.ack).toBe((last.seq + last.data.length) >>> 0);
      expect(answers.length).toBe(1 + Math.floor(inBurst.length / 64));
      acks += answers.length;
    }
    accepted.close();
    await round();
    await round();
    await reading;
    expect(firstDifference(concat(chunks), data)).toBe(-1);
    // Bursts grew past 64 segments (slow start), so the bound was exercised, and the ACKs were
    // far fewer than one per two segments.
    expect(segments / bursts).toBeGreaterThan(64);
    expect(acks).toBeLessThan(segments / 8);
  });
});
