import { describe, expect, it } from "vitest";
import { NetstackError, type TcpConnection } from "../src/netstack.js";
import { A4, B4, B6 } from "./pair.js";
import { concat, firstDifference, pattern } from "./transfer.js";
import { netstackPair } from "./virtual-clock.js";

const pair = () => netstackPair(5);

/** A connection a → b:9, with the server's side of it. */
async function connected() {
  const { clock, a, b } = pair();
  const server = b.listen(9);
  let conn: TcpConnection | undefined;
  void a.connect({ host: B4, port: 9 }).then((c) => (conn = c));
  await clock.run(() => conn !== undefined);
  let peer: TcpConnection | undefined;
  void server.connections
    .getReader()
    .read()
    .then((r) => (peer = r.value));
  await clock.run(() => peer !== undefined);
  if (!conn || !peer) throw new Error("no connection");
  return { clock, conn, peer };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  return concat(chunks);
}

describe("Netstack: sockets as Web Streams", () => {
  it("connects, echoes 300 kB through a server, and closes on both sides (IPv4 and IPv6)", async () => {
    const { clock, a, b } = pair();
    const server = b.listen(7);
    void (async () => {
      const reader = server.connections.getReader();
      for (;;) {
        const { value: conn, done } = await reader.read();
        if (done) return;
        void conn.readable.pipeTo(conn.writable);
      }
    })();
    for (const host of [B4, B6]) {
      let conn: TcpConnection | undefined;
      void a.connect({ host, port: 7 }).then((c) => (conn = c));
      expect(await clock.run(() => conn !== undefined)).toBe(true);
      const data = pattern(300_000);
      const writer = conn!.writable.getWriter();
      void writer.write(data).then(() => writer.close());
      let echoed: Uint8Array | undefined;
      void readAll(conn!.readable).then((d) => (echoed = d));
      let closed = false;
      void conn!.closed.then(() => (closed = true));
      expect(await clock.run(() => echoed !== undefined && closed)).toBe(true);
      expect(firstDifference(echoed!, data)).toBe(-1);
    }
  });

  it("rejects with typed errors: refused, timed out", async () => {
    const { clock, a } = pair();
    let error: unknown;
    void a.connect({ host: B4, port: 1 }).catch((e) => (error = e));
    await clock.run(() => error !== undefined);
    expect(error).toBeInstanceOf(NetstackError);
    expect((error as NetstackError).kind).toBe("refused");
    error = undefined;
    void a.connect({ host: "10.0.0.9", port: 80 }).catch((e) => (error = e));
    await clock.run(() => error !== undefined);
    expect((error as NetstackError).kind).toBe("timed-out");
    expect(clock.now()).toBeGreaterThan(120_000);
  });

  it("errors the streams of a connection the peer resets", async () => {
    const { clock, conn, peer } = await connected();
    await peer.writable.abort();
    let error: unknown;
    void conn.readable
      .getReader()
      .read()
      .catch((e) => (error = e));
    await clock.run(() => error !== undefined);
    expect((error as NetstackError).kind).toBe("reset");
    await expect(conn.closed).rejects.toMatchObject({ kind: "reset" });
  });

  it("keeps what the peer sent before its reset readable, ending cleanly after its FIN", async () => {
    // A server that answers and closes before reading the whole request: its kernel resets the
    // connection when the rest arrives, often before the client has read the answer.
    for (const finFirst of [true, false]) {
      const { clock, conn, peer } = await connected();
      const answer = pattern(3000);
      const writer = peer.writable.getWriter();
      await writer.write(answer);
      if (finFirst) await writer.close();
      await clock.run(() => conn.socket.readableLength === answer.length);
      if (finFirst) await clock.run(() => conn.socket.state === "close-wait");
      // The server stops reading and closes: its stack resets (it had unread request bytes).
      await peer.readable.cancel();
      let reset = false;
      void conn.closed.catch(() => (reset = true));
      expect(await clock.run(() => reset, 1000)).toBe(true);
      // Read only now: everything the peer sent is there, then a clean end (after its FIN) or
      // the reset (without one).
      const chunks: Uint8Array[] = [];
      let error: unknown;
      void (async () => {
        try {
          for await (const c of conn.readable as unknown as AsyncIterable<Uint8Array>)
            chunks.push(c);
        } catch (e) {
          error = e;
        }
      })();
      await clock.run(() => false, 100);
      expect(firstDifference(concat(chunks), answer)).toBe(-1);
      if (finFirst) expect(error).toBeUndefined();
      else expect((error as NetstackError).kind).toBe("reset");
    }
  });

  it("pings and carries UDP datagrams", async () => {
    const { clock, a, b } = pair();
    let rtt: number | undefined;
    void a.ping(B6).then((r) => (rtt = r));
    await clock.run(() => rtt !== undefined);
    expect(rtt).toBe(10);
    const server = b.udp.bind(53);
    const client = a.udp.bind();
    client.send(B4, 53, pattern(20));
    let got: { from: string; fromPort: number; data: Uint8Array } | undefined;
    void server.readable
      .getReader()
      .read()
      .then((r) => (got = r.value));
    await clock.run(() => got !== undefined);
    expect(got).toMatchObject({ from: A4, fromPort: client.port });
    expect(got!.data).toEqual(pattern(20));
  });
});
