import { createSocket } from "node:dgram";
import { request } from "node:https";
import { quicheLoaded, WebTransport } from "@fails-components/webtransport";
import {
  type ErrorFrame,
  encodeFrame,
  encodeStreamMessage,
  FrameReader,
  RelayError,
} from "@wiregate/relay-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay, RelayAddress } from "../src/relay.js";
import {
  connect as connectWith,
  type Echo,
  metricsText,
  roundTrip,
  sample,
  seqOf,
  startEcho,
  startRelay,
  TOKEN,
  TRANSPORTS,
  transportMessage,
  waitFor,
} from "./helpers.js";

let echo: Echo;
let relay: Relay;
let address: RelayAddress;

beforeAll(async () => {
  echo = await startEcho();
  ({ relay, address } = await startRelay(echo.port, { limits: { maxSessionsPerAddress: 6 } }));
});
afterAll(async () => {
  await relay.stop(100);
  await echo.close();
});

const drops = (text: string, direction: string, reason: string) =>
  sample(text, `wiregate_relay_drops_total{direction="${direction}",reason="${reason}"}`);

describe("relay transports", () => {
  it("serves HTTP/3 and HTTP/2 on one port and says so in /healthz and the metrics", async () => {
    expect(address.transports).toEqual(["http2", "http3"]);
    const health = (await (
      await fetch(`http://127.0.0.1:${address.opsPort}/healthz`)
    ).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: "ok", transports: ["http2", "http3"] });
    expect(health.http3Missing).toBeUndefined();
    const text = await metricsText(address);
    expect(sample(text, 'wiregate_relay_transport_up{transport="http3"}')).toBe(1);
    expect(sample(text, 'wiregate_relay_transport_up{transport="http2"}')).toBe(1);
  });

  it("says why HTTP/3 is off when it is disabled", async () => {
    const plain = await startRelay(echo.port, { http3: false });
    try {
      expect(plain.address.transports).toEqual(["http2"]);
      expect(plain.address.http3Missing).toMatch(/disabled/);
      const health = await (
        await fetch(`http://127.0.0.1:${plain.address.opsPort}/healthz`)
      ).json();
      expect(health).toMatchObject({
        transports: ["http2"],
        http3Missing: expect.stringMatching(/disabled/),
      });
      const text = await metricsText(plain.address);
      expect(sample(text, 'wiregate_relay_transport_up{transport="http3"}')).toBe(0);
    } finally {
      await plain.relay.stop(0);
    }
  });
});

describe.each(TRANSPORTS)("relay over %s", (transport) => {
  const connect = (at: RelayAddress, options: Parameters<typeof connectWith>[1] = {}) =>
    connectWith(at, { transport, ...options });

  it("carries datagrams to the upstream and back, welcome sized by the transport", async () => {
    const conn = await connect(address);
    expect(conn.welcome.transport).toBe(transport);
    const session = [...relay.sessions].find((s) => s.ctx.id === conn.welcome.sessionId)!;
    const transportMax = session.wt.datagrams.maxDatagramSize;
    expect(conn.welcome.datagramSize).toBe(Math.min(1452, transportMax));
    // QUIC datagrams carry ~1200 bytes; the library's HTTP/2 capsules up to 16 KiB.
    if (transport === "http3") expect(transportMax).toBeLessThan(1452);
    else expect(transportMax).toBeGreaterThan(1452);
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    const most = conn.welcome.datagramSize;
    // Ten in flight at a time: well inside QUIC's initial congestion window, whose excess QUIC
    // datagrams may expire unsent (they are unreliable; see docs/relay.md).
    const seen: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      for (let i = batch * 10; i < batch * 10 + 10; i++)
        conn.send(transportMessage(i, Math.min(most, 64 + 16 * (i % 80))));
      while (seen.length < batch * 10 + 10) {
        const next = await iterator.next();
        if (next.done) break;
        seen.push(seqOf(next.value));
      }
    }
    // QUIC datagrams may overtake each other; the library's HTTP/2 capsules keep their order.
    if (transport === "http3") seen.sort((a, b) => a - b);
    expect(seen).toEqual([...Array(100).keys()]);
    const stats = await conn.stats();
    expect(stats.toUpstream.datagrams).toBe(100);
    expect(stats.toClient.datagrams).toBe(100);
    // The transport's own loss counters: QUIC's over HTTP/3 (none expired with ten in flight).
    if (transport === "http3")
      expect(await conn.datagramLosses()).toEqual({
        droppedIncoming: 0,
        expiredOutgoing: 0,
        lostOutgoing: 0,
      });
    conn.close();
  });

  it("refuses a missing or wrong token, and sends nothing upstream", async () => {
    const before = echo.received;
    const refusalsBefore = sample(
      await metricsText(address),
      'wiregate_relay_refusals_total{code="unauthorized"}',
    );
    await expect(connect(address, { token: undefined })).rejects.toMatchObject({
      code: "unauthorized",
    });
    const wrong = connect(address, { token: "wrong-token-wrong-token" });
    await expect(wrong).rejects.toBeInstanceOf(RelayError);
    await expect(wrong).rejects.toMatchObject({ code: "unauthorized" });
    expect(echo.received).toBe(before);
    expect(
      sample(await metricsText(address), 'wiregate_relay_refusals_total{code="unauthorized"}'),
    ).toBe(refusalsBefore + 2);
  });

  it("refuses an unknown upstream without sending anything anywhere", async () => {
    const before = sample(
      await metricsText(address),
      'wiregate_relay_datagrams_total{direction="to_upstream"}',
    );
    const echoBefore = echo.received;
    await expect(connect(address, { upstream: "10.0.0.1" })).rejects.toMatchObject({
      code: "unknown-upstream",
    });
    const after = sample(
      await metricsText(address),
      'wiregate_relay_datagrams_total{direction="to_upstream"}',
    );
    expect(after).toBe(before);
    expect(echo.received).toBe(echoBefore);
  });

  it("drops and counts datagrams that are not WireGuard messages", async () => {
    const conn = await connect(address);
    const before = drops(await metricsText(address), "to_upstream", "malformed");
    const echoBefore = echo.received;
    const bad = [
      new Uint8Array([0]),
      new Uint8Array(148).fill(7), // unknown type
      Uint8Array.from({ length: 148 }, (_, i) => (i === 0 ? 1 : i === 1 ? 9 : 0)), // reserved byte set
      new Uint8Array(147).fill(0).map((v, i) => (i === 0 ? 1 : v)), // initiation of the wrong length
      Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 4 : 0)), // transport shorter than header + tag
      new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
    ];
    for (const datagram of bad) conn.send(datagram);
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    await roundTrip(conn, iterator, 4242); // a good one after the bad ones: all were processed
    const after = drops(await metricsText(address), "to_upstream", "malformed");
    expect(after - before).toBe(bad.length);
    expect(echo.received - echoBefore).toBe(1);
    const stats = await conn.stats();
    expect(stats.drops.malformed).toBe(bad.length);
    const text = await metricsText(address);
    expect(
      sample(
        text,
        'wiregate_relay_wireguard_messages_total{direction="to_upstream",type="transport"}',
      ),
    ).toBeGreaterThan(0);
    conn.close();
  });

  it("carries messages above the datagram limit on the message stream, both ways", async () => {
    const conn = await connect(address);
    const large = conn.welcome.datagramSize < 1452;
    expect(large).toBe(transport === "http3");
    expect(conn.welcome.messageSize).toBe(large ? 1452 : undefined);
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    const before = drops(await metricsText(address), "to_upstream", "malformed");
    const echoBefore = echo.received;
    // Not WireGuard, and too big for a datagram: the relay checks stream messages alike.
    conn.send(Uint8Array.from({ length: 1300 }, (_, i) => (i === 0 ? 9 : 0)));
    const sizes = [1452, 1300, 1214, 148, 1452];
    for (const [i, size] of sizes.entries()) conn.send(transportMessage(i, size));
    const back = new Map<number, number>();
    while (back.size < sizes.length) {
      const next = await iterator.next();
      if (next.done) throw new Error("session ended");
      back.set(seqOf(next.value), next.value.length);
    }
    expect([...back].sort((a, b) => a[0] - b[0])).toEqual(sizes.map((size, i) => [i, size]));
    const onStream = large ? sizes.filter((size) => size > conn.welcome.datagramSize).length : 0;
    expect(conn.streamed).toMatchObject({
      sent: onStream + (large ? 1 : 0),
      received: onStream,
      dropped: 0,
    });
    expect(echo.received - echoBefore).toBe(sizes.length);
    expect(drops(await metricsText(address), "to_upstream", "malformed") - before).toBe(1);
    conn.close();
  });

  it("takes datagrams when asked, and the stream for auto", async () => {
    const datagrams = await connect(address, { carriage: "datagrams" });
    expect(datagrams.welcome.carriage).toBe("datagrams");
    datagrams.close();
    const auto = await connect(address, { carriage: "auto" });
    expect(auto.welcome).toMatchObject({ carriage: "stream", carriageReason: /^auto: / });
    const iterator = auto.datagrams[Symbol.asyncIterator]();
    await roundTrip(auto, iterator, 7);
    expect(auto.streamed).toMatchObject({ sent: 1, received: 1 });
    auto.close();
    // A client from before the carriage asks for none: datagrams, as it expects.
    const old = await connect(address);
    expect(old.welcome.carriage).toBe("datagrams");
    old.close();
  });

  it("reports a message over the session's limit to the client", async () => {
    const errors: ErrorFrame[] = [];
    const conn = await connect(address, { onError: (e) => errors.push(e) });
    conn.send(transportMessage(1, 1456)); // well-formed size class, but over the session's 1452
    await waitFor(() => errors.length > 0);
    expect(errors[0]).toMatchObject({
      code: "oversized",
      message: "message of 1456 bytes exceeds 1452",
      limit: 1452,
    });
    expect((await conn.stats()).drops.oversized).toBe(1);
    conn.close();
  });

  it("drops replies that come from another address than the upstream", async () => {
    // An upstream that answers from a second socket (a different source port).
    const front = createSocket("udp4");
    const other = createSocket("udp4");
    await Promise.all([
      new Promise<void>((r) => front.bind(0, "127.0.0.1", () => r())),
      new Promise<void>((r) => other.bind(0, "127.0.0.1", () => r())),
    ]);
    front.on("message", (msg, from) => {
      other.send(msg, from.port, from.address);
      front.send(msg, from.port, from.address);
    });
    relay.upstreams.register({ name: "two-faced", host: "127.0.0.1", port: front.address().port });
    const before = drops(await metricsText(address), "to_client", "foreign-source");
    const conn = await connect(address, { upstream: "two-faced" });
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    await roundTrip(conn, iterator, 7);
    await waitFor(
      async () => drops(await metricsText(address), "to_client", "foreign-source") === before + 1,
    );
    conn.close();
    front.close();
    other.close();
  });

  it("survives an upstream restart", async () => {
    const upstream = await startEcho();
    const port = upstream.port;
    relay.upstreams.register({ name: "restarting", host: "127.0.0.1", port });
    const conn = await connect(address, { upstream: "restarting" });
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    await roundTrip(conn, iterator, 1);
    await upstream.close();
    conn.send(transportMessage(2)); // nobody listens: lost, and the kernel may answer ICMP
    conn.send(transportMessage(3));
    await new Promise((r) => setTimeout(r, 100));
    const again = await startEcho(port);
    await roundTrip(conn, iterator, 4);
    expect(again.received).toBe(1);
    conn.close();
    await again.close();
  });

  it("closes idle sessions from the relay-wide sweep, and keeps active ones", async () => {
    // Idleness is judged on the relay's clock: a virtual one here, advanced by hand, so how fast
    // the machine schedules this test cannot change what the sweep sees.
    let now = 0;
    const idleRelay = await startRelay(
      echo.port,
      { limits: { idleTimeoutMs: 1_000 } },
      { clock: () => now },
    );
    try {
      const idle = await connect(idleRelay.address);
      const active = await connect(idleRelay.address);
      const iterator = active.datagrams[Symbol.asyncIterator]();
      now = 600;
      await roundTrip(active, iterator, 1); // active at 600 (both directions)
      now = 1_000;
      expect(idleRelay.relay.sweepIdle()).toBe(0); // idle for exactly the limit: kept
      now = 1_200;
      expect(idleRelay.relay.sweepIdle()).toBe(1); // idle since 0: closed; active since 600: kept
      expect(idleRelay.relay.sessions.size).toBe(1);
      expect((await idle.closed).error?.code).toBe("idle");
      await roundTrip(active, iterator, 2); // the active one still carries traffic
      expect(idleRelay.relay.sessions.size).toBe(1);
      active.close();
      await waitFor(() => idleRelay.relay.sessions.size === 0);
    } finally {
      await idleRelay.relay.stop(100);
    }
  });

  it("limits sessions per client address", async () => {
    await waitFor(() => relay.sessions.size === 0);
    const open = await Promise.all(Array.from({ length: 6 }, () => connect(address)));
    await expect(connect(address)).rejects.toMatchObject({ code: "limit" });
    for (const conn of open) conn.close();
    await waitFor(() => relay.sessions.size === 0);
    const conn = await connect(address);
    conn.close();
  });

  it("serves /healthz and static files on the TLS port", async () => {
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: address.port,
            path,
            ca: relay.certificate!.certPem,
            servername: "localhost",
          },
          (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on("error", reject);
        req.end();
      });
    expect(await get("/healthz")).toEqual({ status: 200, body: "ok\n" });
    expect((await get("/")).status).toBe(404); // no static directory in this relay
    relay.publish("/wiregate.json", { upstream: "echo" });
    expect(await get("/wiregate.json?x=1")).toEqual({ status: 200, body: '{"upstream":"echo"}' });
    const health = await fetch(`http://127.0.0.1:${address.opsPort}/healthz`);
    expect(await health.json()).toMatchObject({ status: "ok" });
  });
});

/** A library WebTransport session to the relay and its control stream, before any frame. */
async function rawSession() {
  await quicheLoaded;
  const wt = new WebTransport(address.url, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: address.certificateSha256 }],
    requireUnreliable: true,
  });
  await wt.ready;
  return { wt, control: await wt.createBidirectionalStream() };
}

describe.each(TRANSPORTS)("stream carriage over %s", (transport) => {
  it("carries every message on the message stream with the stream carriage, both ways", async () => {
    const carried = (text: string, direction: string, carriage: string) =>
      sample(
        text,
        `wiregate_relay_messages_by_carriage_total{direction="${direction}",carriage="${carriage}"}`,
      );
    const before = await metricsText(address);
    const conn = await connectWith(address, { transport, carriage: "stream" });
    expect(conn.welcome).toMatchObject({ carriage: "stream", carriageReason: expect.any(String) });
    expect(conn.carriage).toBe("stream");
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    // 1 MiB and more each way, sizes from 32 to the session's limit, 64 in flight.
    const count = 1000;
    const sizeOf = (i: number) => 32 + ((i * 97) % (1452 - 32 + 1));
    const seen: number[] = [];
    let next = 0;
    while (seen.length < count) {
      for (; next < count && next - seen.length < 64; next++)
        conn.send(transportMessage(next, sizeOf(next)));
      const item = await iterator.next();
      if (item.done) throw new Error("session ended");
      expect(item.value.length).toBe(sizeOf(seqOf(item.value)));
      seen.push(seqOf(item.value));
    }
    // A stream keeps the order.
    expect(seen).toEqual([...Array(count).keys()]);
    expect(conn.streamed).toMatchObject({ sent: count, received: count, dropped: 0 });
    // Several messages per write at times: fewer writes than messages.
    expect(conn.streamed.writes).toBeLessThan(count);
    const after = await metricsText(address);
    for (const direction of ["to_upstream", "to_client"]) {
      const onStream = carried(after, direction, "stream") - carried(before, direction, "stream");
      expect(onStream).toBe(count);
      expect(carried(after, direction, "datagrams")).toBe(carried(before, direction, "datagrams"));
    }
    conn.close();
  });
});

describe("message stream toward a client that does not read it", () => {
  it("sends every echoed message, or counts it as dropped (stream-backlog)", async () => {
    const { wt, control } = await rawSession();
    await control.writable
      .getWriter()
      .write(encodeFrame({ type: "hello", version: 1, token: TOKEN, upstream: "echo" }));
    const reply = await control.readable.getReader().read();
    const [welcome] = new FrameReader().push(reply.value!);
    expect(welcome).toMatchObject({ ok: true, frame: { type: "welcome", messageSize: 1452 } });
    const sessionId =
      welcome!.ok && welcome!.frame.type === "welcome" ? welcome!.frame.sessionId : "";
    const session = [...relay.sessions].find((s) => s.ctx.id === sessionId)!;
    const messages = await wt.createBidirectionalStream();
    const writer = messages.writable.getWriter();
    // 400 messages of 1452 bytes (580 KB) go up and are echoed down a stream nobody reads.
    for (let i = 0; i < 400; i++)
      await writer.write(encodeStreamMessage(transportMessage(i, 1452)));
    await waitFor(() => session.stats.toUpstream.datagrams === 400, 10_000);
    await waitFor(
      () => session.stats.toClient.datagrams + (session.stats.drops["stream-backlog"] ?? 0) === 400,
      10_000,
    );
    wt.close();
  });
});

describe("control frames written together", () => {
  it("answers a stats request sent in the same write as the hello", async () => {
    const { wt, control } = await rawSession();
    const hello = encodeFrame({ type: "hello", version: 1, token: TOKEN, upstream: "echo" });
    await control.writable
      .getWriter()
      .write(Buffer.concat([hello, encodeFrame({ type: "stats-request" })]));
    const reader = control.readable.getReader();
    const frames = new FrameReader();
    const received: string[] = [];
    while (received.length < 2) {
      const chunk = await reader.read();
      if (chunk.done) break;
      for (const result of frames.push(chunk.value))
        received.push(result.ok ? result.frame.type : result.detail);
    }
    expect(received).toEqual(["welcome", "stats"]);
    wt.close();
  });
});
