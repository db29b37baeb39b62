import { createSocket } from "node:dgram";
import { request } from "node:https";
import { type ErrorFrame, RelayError } from "@wiregate/session";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay, RelayAddress } from "../src/relay.js";
import {
  connect,
  type Echo,
  metricsText,
  roundTrip,
  sample,
  seqOf,
  startEcho,
  startRelay,
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

describe("relay", () => {
  it("carries datagrams to the upstream and back, in order", async () => {
    const conn = await connect(address);
    expect(conn.welcome.transport).toBe("http2");
    expect(conn.welcome.datagramSize).toBe(1452);
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    for (let i = 0; i < 100; i++) conn.send(transportMessage(i, 64 + 16 * (i % 80)));
    const seen: number[] = [];
    while (seen.length < 100) {
      const next = await iterator.next();
      if (next.done) break;
      seen.push(seqOf(next.value));
    }
    expect(seen).toEqual([...Array(100).keys()]);
    const stats = await conn.stats();
    expect(stats.toUpstream.datagrams).toBe(100);
    expect(stats.toClient.datagrams).toBe(100);
    conn.close();
  });

  it("refuses a missing or wrong token, and sends nothing upstream", async () => {
    const before = echo.received;
    await expect(connect(address, { token: undefined })).rejects.toMatchObject({
      code: "unauthorized",
    });
    const wrong = connect(address, { token: "wrong-token-wrong-token" });
    await expect(wrong).rejects.toBeInstanceOf(RelayError);
    await expect(wrong).rejects.toMatchObject({ code: "unauthorized" });
    expect(echo.received).toBe(before);
    expect(
      sample(await metricsText(address), 'wiregate_relay_refusals_total{code="unauthorized"}'),
    ).toBe(2);
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

  it("reports an oversized datagram to the client", async () => {
    const errors: ErrorFrame[] = [];
    const conn = await connect(address, { onError: (e) => errors.push(e) });
    conn.send(transportMessage(1, 1456)); // well-formed size class, but over the session's 1452
    await waitFor(() => errors.length > 0);
    expect(errors[0]).toMatchObject({ code: "oversized", limit: 1452 });
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
