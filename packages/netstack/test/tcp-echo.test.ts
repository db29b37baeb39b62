/**
 * An echo in virtual time, as the demo peer's /echo runs it: the server reads only what it can
 * write back, so its receive window shuts whenever the client is slow to take the echo, while the
 * client keeps sending; some of both sides' segments are lost. Both directions are in loss
 * recovery at once, and the server's retransmissions carry lower sequence numbers than its pure
 * ACKs (those carry SND.MAX). Found in the page: the client took the window of a newer pure ACK,
 * then slid it forward on a retransmission's ACK without the window that ACK carried, sent beyond
 * the server's shut window, and every ACK it sent after that (at its SND.MAX) was outside that
 * window: neither side ever heard the other again.
 */
import { describe, expect, it } from "vitest";
import type { StackEvent } from "../src/events.js";
import { seqAdd, seqDiff, seqGt } from "../src/seq.js";
import { SYN } from "../src/tcp/segment.js";
import type { TcpSocket } from "../src/tcp/socket.js";
import { B4, type Side } from "./pair.js";
import { tapped } from "./tap.js";
import { concat, firstDifference, pattern } from "./transfer.js";

const BUFFER = 64 * 1024;
const SIZE = 1_000_000;

/** The client sends `SIZE` bytes to an echo server and reads the echo, over a lossy link. */
function echo(seed: number, loss: number) {
  let serverScale = 0;
  /** The right edge of the server's window as it last advertised it (its highest). */
  let edge: number | undefined;
  /** Client data that went past that edge: bytes beyond it, at most. */
  let overrun = 0;
  const { pair } = tapped(
    { delay: 10, loss, seed },
    (s) => {
      const seg = s.seg;
      if (s.from === "b") {
        if (seg.flags & SYN) serverScale = seg.options.windowScale ?? 0;
        const right = seqAdd(seg.ack, seg.window << (seg.flags & SYN ? 0 : serverScale));
        if (edge === undefined || seqGt(right, edge)) edge = right;
      } else if (edge !== undefined && seg.data.length > 0) {
        overrun = Math.max(overrun, seqDiff(seqAdd(seg.seq, seg.data.length), edge));
      }
      return false;
    },
    { sendBuffer: BUFFER, receiveBuffer: BUFFER, timeWait: 1000 },
  );
  const data = pattern(SIZE, 7);
  pair.b.listen(80);
  const client = pair.a.connect(pair.now, { host: B4, port: 80 });
  let server: TcpSocket | undefined;
  let sent = 0;
  const answer: Uint8Array[] = [];
  /** Read by the server and not yet written back (a pipe: it reads no more until this is out). */
  let pending: Uint8Array = new Uint8Array(0);
  let serverEnded = false;
  const pump = () => {
    while (sent < SIZE) {
      const n = client.write(data.subarray(sent, sent + 16384));
      if (n === 0) return;
      sent += n;
    }
    client.close();
  };
  const serve = () => {
    if (!server) return;
    for (;;) {
      if (pending.length > 0) {
        const n = server.write(pending);
        pending = pending.subarray(n);
        if (pending.length > 0) return;
      }
      if (server.readableLength === 0) break;
      pending = server.read(16384);
    }
    if (serverEnded && server.state === "close-wait") server.close();
  };
  pair.onEvent = (side: Side, e: StackEvent) => {
    if (e.type === "tcp-accepted") server = e.socket;
    if (side === "a") {
      if (e.type === "tcp-writable") pump();
      if (e.type === "tcp-readable" || e.type === "tcp-end") answer.push(client.read());
    } else {
      if (e.type === "tcp-end") serverEnded = true;
      serve();
    }
  };
  pump();
  const done = () => concat(answer).length >= SIZE || client.state === "closed";
  const finished = pair.run(done, 600_000);
  return { finished, overrun, answer: concat(answer), data, stats: [pair.a.stats, pair.b.stats] };
}

describe("an echo that shuts its window while both sides recover from losses", () => {
  it("sends nothing beyond the advertised window, and finishes", () => {
    // 5 % loss each way, 20 ms round trip. Before the fix, with this seed, the client sent past
    // the window and the connection timed out after 545,832 bytes had come back.
    const r = echo(4, 0.05);
    expect(r.finished).toBe(true);
    expect(firstDifference(r.answer, r.data)).toBe(-1);
    expect(r.overrun).toBeLessThanOrEqual(0);
    for (const stats of r.stats) expect(stats.timeouts).toBeLessThanOrEqual(2);
  });
});
