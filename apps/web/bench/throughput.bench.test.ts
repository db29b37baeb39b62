/**
 * In-page tunnel throughput through the relay to the demo peer (UDP echo flood inside WireGuard)
 * over native HTTP/3 and over the WebSocket fallback, each next to the raw datagram echo throughput
 * of the same transport in the same run (WireGuard-shaped datagrams of the same size to a raw UDP echo
 * upstream), and the main thread's longest task. Writes test-results/bench.json.
 */
import { createSocket } from "node:dgram";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DemoPeer } from "@wiregate/relay";
import { afterAll, expect, it } from "vitest";
import type { FloodResult } from "../src/protocol.js";
import {
  browser,
  newContext,
  open,
  openTab,
  pageUrl,
  RESULTS,
  type RunningRelay,
  requireBuild,
  startRelay,
} from "../test/stack.js";
import { type SchedTimes, schedTimes } from "./sched.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** Inner UDP payload: 1200 makes 1264-byte WireGuard messages, above Chromium's HTTP/3 datagram
 * limit (~1211), so over HTTP/3 they take the message stream; 1100 (1168 bytes) stays datagrams. */
const PAYLOAD = Number(process.env.BENCH_PAYLOAD ?? 1200);
const closers: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

it("tunnel vs raw transport throughput, and main-thread long tasks", async () => {
  requireBuild();
  const demo = await DemoPeer.start();
  closers.push(() => demo.close());
  const echo = createSocket("udp4");
  echo.on("message", (message, from) => echo.send(message, from.port, from.address));
  await new Promise<void>((resolve) => echo.bind(0, "127.0.0.1", () => resolve()));
  closers.push(() => echo.close());
  const upstreams = [
    { name: "demo", host: demo.host, port: demo.port, publicKey: demo.publicKey },
    { name: "echo", host: "127.0.0.1", port: echo.address().port },
  ];
  const chromium = await browser();
  closers.push(() => chromium.close());
  /** A page connected to the demo peer through a relay with HTTP/3 on (native) or off (WebSocket). */
  const connectedPage = async (http3: boolean, badge: string) => {
    const relay: RunningRelay = await startRelay(upstreams, 0, http3);
    closers.push(() => relay.stop());
    const page = await (await newContext(chromium)).newPage();
    await open(page, pageUrl(relay.address, { peer: demo.publicKey }));
    await page.getByRole("button", { name: "Generate key pair" }).click();
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    await expect
      .poll(() => page.getByTestId("badge").textContent(), { timeout: 15_000 })
      .toMatch(new RegExp(`^Connected · ${badge}`));
    await openTab(page, "Tools");
    return page;
  };
  const page = await connectedPage(true, "WebTransport \\(HTTP/3\\)");
  const wsPage = await connectedPage(false, "WebSocket");
  // A main-thread responsiveness probe beside the longtask observer (which only sees > 50 ms).
  await page.evaluate(() => {
    const w = window as unknown as { lag: number; longTasks: number[] };
    w.lag = 0;
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      w.lag = Math.max(w.lag, now - last - 10);
      last = now;
    }, 10);
  });
  const longBefore = await page.evaluate(
    () => (window as unknown as { wiregateLongTasks: number[] }).wiregateLongTasks.length,
  );

  /** µs on a CPU per echoed datagram, by process (this one runs the relay and the demo peer). */
  const cpuPerDatagram = (before: SchedTimes, received: number) => {
    const per: Record<string, number> = {};
    for (const [kind, now] of schedTimes()) {
      const us = (now.run - (before.get(kind)?.run ?? 0)) / 1000 / Math.max(1, received);
      if (us >= 1) per[kind] = Math.round(us);
    }
    return per;
  };
  type Run = FloodResult & { cpuUsPerDatagram: Record<string, number> };
  const run = async (mode: "tunnel" | "raw", on = page): Promise<Run> => {
    const page = on;
    const before = schedTimes();
    await page.getByLabel("Mode").selectOption(mode);
    await page.getByLabel("Seconds").fill(String(SECONDS));
    await page.getByLabel("Datagram payload (bytes)").fill(String(PAYLOAD));
    await page.getByRole("button", { name: "Run" }).click();
    const result = page.locator('[data-testid="flood-result"][data-result]');
    await result.waitFor({ state: "attached", timeout: SECONDS * 1000 + 15_000 });
    const flood = JSON.parse((await result.getAttribute("data-result")) ?? "{}") as FloodResult;
    return { ...flood, cpuUsPerDatagram: cpuPerDatagram(before, flood.received) };
  };

  const results: Run[] = [];
  const wsResults: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    results.push(await run("raw"));
    results.push(await run("tunnel"));
    wsResults.push(await run("raw", wsPage));
    wsResults.push(await run("tunnel", wsPage));
  }
  const probe = await page.evaluate(() => {
    const w = window as unknown as { lag: number; wiregateLongTasks: number[] };
    return { lag: w.lag, longTasks: w.wiregateLongTasks };
  });
  const longTasks = probe.longTasks.slice(longBefore);
  const mean = (mode: string, of = results) => {
    const r = of.filter((x) => x.mode === mode);
    return r.reduce((a, x) => a + x.datagramsPerSecond, 0) / r.length;
  };
  const raw = mean("raw");
  const tunnel = mean("tunnel");
  const wsRaw = mean("raw", wsResults);
  const wsTunnel = mean("tunnel", wsResults);
  /** Losses of one mode, summed over its runs: the flood's own count and the transport's. */
  const losses = (runs: FloodResult[]) => ({
    lost: runs.reduce((a, x) => a + x.lost, 0),
    sent: runs.reduce((a, x) => a + x.sent, 0),
    ...Object.fromEntries(
      (["droppedIncoming", "expiredOutgoing", "lostOutgoing"] as const).map((key) => [
        key,
        runs.reduce((a, x) => a + (x.transportLosses?.[key] ?? 0), 0),
      ]),
    ),
  });
  const summary = {
    seconds: SECONDS,
    rounds: ROUNDS,
    datagramBytes: results[0]?.datagramBytes,
    rawHttp3DatagramsPerSecond: Math.round(raw),
    tunnelHttp3DatagramsPerSecond: Math.round(tunnel),
    rawWebSocketDatagramsPerSecond: Math.round(wsRaw),
    tunnelWebSocketDatagramsPerSecond: Math.round(wsTunnel),
    tunnelPayloadMbitPerSecond: Number(((tunnel * PAYLOAD * 8) / 1e6).toFixed(1)),
    tunnelVsRawHttp3: Number((tunnel / raw).toFixed(2)),
    tunnelVsRawWebSocket: Number((wsTunnel / wsRaw).toFixed(2)),
    rawHttp3VsRawWebSocket: Number((raw / wsRaw).toFixed(2)),
    lossesRawHttp3: losses(results.filter((x) => x.mode === "raw")),
    lossesTunnelHttp3: losses(results.filter((x) => x.mode === "tunnel")),
    lossesRawWebSocket: losses(wsResults.filter((x) => x.mode === "raw")),
    lossesTunnelWebSocket: losses(wsResults.filter((x) => x.mode === "tunnel")),
    cpuUsPerDatagram: Object.fromEntries(
      [
        ["rawHttp3", results.filter((x) => x.mode === "raw")],
        ["tunnelHttp3", results.filter((x) => x.mode === "tunnel")],
        ["rawWebSocket", wsResults.filter((x) => x.mode === "raw")],
        ["tunnelWebSocket", wsResults.filter((x) => x.mode === "tunnel")],
      ].map(([name, runs]) => [name, (runs as Run[]).at(-1)?.cpuUsPerDatagram]),
    ),
    longTasksOver50ms: longTasks.length,
    longestTaskMs: longTasks.length ? Math.max(...longTasks) : 0,
    maxTimerLagMs: Number(probe.lag.toFixed(1)),
    runs: [...results, ...wsResults],
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "bench.json"), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ ...summary, runs: undefined }, null, 2)}\n`);
  expect([...results, ...wsResults].every((r) => r.received > 0)).toBe(true);
});
