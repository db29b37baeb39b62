/**
 * Refusals decided before anything is read: the Origin allow-list, load shedding by memory, and
 * the rate-limited audit log of refusals (see "Limits and defences" in docs/relay.md). Against the
 * relay as its own process, except where the test needs to move the process's memory at will.
 */

import { request } from "node:https";
import { describe, expect, it } from "vitest";
import { REFUSAL_LOG_RATE } from "../src/refusal-audit.js";
import { connect, metricsText, roundTrip, sample, startRelay, waitFor } from "./helpers.js";
import { lineMatching, MiB, type RelayProcess, relayProcesses } from "./relay-process.js";

const { relayWith, running, echo: echoOf } = relayProcesses();

const refused = (code: string) => `wiregate_relay_refusals_total{code="${code}"}`;
const metric = async (relay: { address: RelayProcess["address"] }, series: string) =>
  sample(await metricsText(relay.address), series);
const pendingSessions = async (relay: RelayProcess) =>
  (
    (await (await fetch(`http://127.0.0.1:${relay.address.opsPort}/healthz`)).json()) as {
      sessions: number;
    }
  ).sessions;

/**
 * Opens a WebTransport session over WebSocket as a browser would, with `origin` (none when
 * undefined); resolves once the relay answered the upgrade, and keeps it open until the test ends
 * unless `keep` is false.
 */
function browserSession(
  relay: RelayProcess,
  origin: string | undefined,
  keep = true,
): Promise<void> {
  const url = new URL(relay.address.url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      rejectUnauthorized: false,
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": Buffer.from("0123456789abcdef").toString("base64"),
        "sec-websocket-protocol": "webtransport_kDraft2",
        ...(origin === undefined ? {} : { origin }),
      },
    });
    req.on("upgrade", (_response, socket) => {
      if (keep) running.push({ stop: () => socket.destroy() });
      else socket.destroy();
      resolve();
    });
    req.on("response", (response) => reject(new Error(`no upgrade: ${response.statusCode}`)));
    req.on("error", reject);
    req.end();
  });
}

describe("Origin allow-list", () => {
  it("refuses a foreign origin and counts it; lets in the page's own origin and clients without one", async () => {
    const relay = await relayWith(["--hello-timeout=60000"]);
    const own = `https://127.0.0.1:${relay.address.port}`;
    await browserSession(relay, "https://evil.example");
    await waitFor(async () => (await metric(relay, refused("origin"))) === 1, 20_000);
    expect(await pendingSessions(relay)).toBe(0); // refused before taking a slot
    // The relay's own page (the request's Host) gets a session; it waits for its hello.
    await browserSession(relay, own);
    await waitFor(async () => (await pendingSessions(relay)) === 1, 20_000);
    // So does a page served under another of its names (the certificate's), at its port.
    await browserSession(relay, `https://localhost:${relay.address.port}`);
    await waitFor(async () => (await pendingSessions(relay)) === 2, 20_000);
    await browserSession(relay, `https://localhost:${relay.address.port + 1}`);
    await waitFor(async () => (await metric(relay, refused("origin"))) === 2, 20_000);
    // A client that is not a browser sends no Origin and still gets through.
    const conn = await connect(relay.address, { transport: "http2" });
    await roundTrip(conn, conn.datagrams[Symbol.asyncIterator](), 1);
    conn.close();
    expect(await metric(relay, refused("origin"))).toBe(2);
  }, 60_000);

  it("lets in configured origins, and with --require-origin refuses clients without one", async () => {
    const relay = await relayWith([
      "--hello-timeout=60000",
      "--allow-origin=https://app.example",
      "--require-origin",
    ]);
    await browserSession(relay, "https://app.example");
    await waitFor(async () => (await pendingSessions(relay)) === 1, 20_000);
    await expect(connect(relay.address, { transport: "http2" })).rejects.toThrow();
    await waitFor(async () => (await metric(relay, refused("origin"))) === 1, 20_000);
    expect(await pendingSessions(relay)).toBe(1);
  }, 60_000);
});

describe("audit log of refusals", () => {
  it("logs a bounded number of lines for a flood of refusals, sums up the rest, and counts every one", async () => {
    const relay = await relayWith([]);
    const floods = 150;
    const started = performance.now();
    for (let i = 0; i < floods; i += 15)
      await Promise.all(
        Array.from({ length: 15 }, () => browserSession(relay, "https://evil.example", false)),
      );
    await waitFor(async () => (await metric(relay, refused("origin"))) === floods, 30_000);
    // Read the log until every refusal is accounted for, by its own line or in a summary.
    let logged = 0;
    let summarized = 0;
    while (logged + summarized < floods) {
      const line = await lineMatching(relay.lines, (l) => /"msg":"[a-z ]*refus/.test(l));
      const entry = JSON.parse(line);
      if (entry.msg === "session refused") {
        expect(entry).toMatchObject({ reason: "origin", client: "127.0.0.1" });
        logged++;
      } else {
        expect(entry.msg).toBe("refusals not logged");
        expect(Object.keys(entry.byReason)).toEqual(["origin"]);
        expect(entry.byReason.origin).toBe(entry.total);
        summarized += entry.total;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    expect(logged + summarized).toBe(floods);
    expect(logged).toBeLessThanOrEqual(
      REFUSAL_LOG_RATE.burst + Math.ceil(seconds * REFUSAL_LOG_RATE.perSecond),
    );
    expect(summarized).toBeGreaterThan(0);
  }, 90_000);
});

describe("load shedding by memory", () => {
  it("refuses every new session while the process is above the mark, with its own refusal code", async () => {
    // Any Node process is above 1 MiB: the relay sheds from the start.
    const relay = await relayWith([`--memory-mark=${MiB}`]);
    await expect(connect(relay.address, { transport: "http2" })).rejects.toThrow();
    await browserSession(relay, undefined);
    await waitFor(async () => (await metric(relay, refused("memory"))) === 2, 20_000);
    expect(await pendingSessions(relay)).toBe(0);
  }, 60_000);

  it("takes sessions again once the memory dropped below the mark", async () => {
    let rss = 2 * MiB;
    const { relay, address } = await startRelay(
      echoOf().port,
      { limits: { memoryMarkBytes: MiB } },
      { rss: () => rss },
    );
    try {
      await expect(connect(address, { transport: "http2" })).rejects.toThrow();
      expect(await metric({ address }, refused("memory"))).toBe(1);
      rss = MiB;
      const conn = await connect(address, { transport: "http2" });
      await roundTrip(conn, conn.datagrams[Symbol.asyncIterator](), 1);
      conn.close();
      expect(await metric({ address }, refused("memory"))).toBe(1);
    } finally {
      await relay.stop(0);
    }
  }, 60_000);
});
