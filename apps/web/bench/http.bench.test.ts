/**
 * HTTP through the tunnel in the page: a download from the demo peer's /bytes through the Browse
 * screen's path (Service Worker → tunnel worker → netstack TCP → relay → demo peer), next to the
 * raw goodput of the same transport and carriage in the same run, the pings' round trips through
 * the tunnel during the download (p50/p95/max), and the main thread's long tasks; on every
 * carriage (HTTP/3 datagrams, HTTP/3 stream, the WebSocket fallback). 50 MB by default
 * (BENCH_HTTP_BYTES). Writes test-results/http-bench.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DemoPeer } from "@wiregate/relay";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import type { FloodResult } from "../src/protocol.js";
import {
  browseOriginOf,
  browsePageUrl,
  CARRIAGES,
  type CarriageCase,
  chromiumBrowser,
  connectTunnel,
  demoUpstream,
  newContext,
  open,
  openTab,
  RESULTS,
  requireBuild,
  startRelay,
} from "../test/stack.js";
import { percentile } from "./percentile.js";
import { startUdpEcho } from "./udp-echo.js";

const BYTES = Number(process.env.BENCH_HTTP_BYTES ?? 50_000_000);
/** The tests' carriages, and WebSocket with datagrams: what `auto` picks is measured here. */
interface BenchCase {
  name: string;
  http3: boolean;
  carriage: CarriageCase["carriage"];
}
const BENCH_CASES: BenchCase[] = [
  ...CARRIAGES,
  { name: "WebSocket datagrams", http3: false, carriage: "datagrams" },
];
/** Pings through the tunnel during the download, one per PING_MS. */
const PING_MS = 50;

const closers = closeAfterAll();

it("HTTP download through the tunnel vs raw datagram goodput", async () => {
  requireBuild();
  const demo = await DemoPeer.start();
  closers.push(() => demo.close());
  const echo = await startUdpEcho(closers);
  const chromium = await chromiumBrowser();
  closers.push(() => chromium.close());

  /** One transport: relay with HTTP/3 on (native) or off (WebSocket), page from its loopback
   * plain-HTTP listener (a secure context for the Service Worker, no certificate to trust). */
  const measure = async ({ http3, carriage, name }: BenchCase) => {
    const relay = await startRelay([demoUpstream(demo), echo], 0, http3, true);
    closers.push(() => relay.stop());
    const context = await newContext(chromium, undefined, true);
    const page = await context.newPage();
    await open(page, browsePageUrl(relay.address, { peer: demo.publicKey, carriage }));
    await page.getByRole("button", { name: "Generate key pair" }).click();
    await connectTunnel(
      page,
      http3 ? /^Connected · WebTransport \(HTTP\/3\)/ : /^Connected · WebSocket/,
      15_000,
    );
    const transport = await page.getByTestId("badge").textContent();

    // Raw datagram goodput of the same transport (the Tools screen's flood, "raw" mode).
    await openTab(page, "Tools");
    await page.getByLabel("Mode").selectOption("raw");
    await page.getByLabel("Seconds").fill("5");
    // 1,100 bytes: 1,168-byte messages, which stay datagrams over HTTP/3 with that carriage.
    await page.getByLabel("Datagram payload (bytes)").fill("1100");
    await page.getByRole("button", { name: "Run" }).click();
    const result = page.locator('[data-testid="flood-result"][data-result]');
    await result.waitFor({ state: "attached", timeout: 30_000 });
    const raw = JSON.parse((await result.getAttribute("data-result")) ?? "{}") as FloodResult;
    // The same flood inside the tunnel (UDP echo at the demo peer), same payload: tunnel ÷ raw.
    await page.getByLabel("Mode").selectOption("tunnel");
    await page.getByRole("button", { name: "Run" }).click();
    await page.locator('[data-testid="flood-result"][data-result]').waitFor({
      state: "attached",
      timeout: 30_000,
    });
    const tunnel = JSON.parse(
      (await page.getByTestId("flood-result").getAttribute("data-result")) ?? "{}",
    ) as FloodResult;

    // The Browse path: a tab on the demo peer's Browse origin fetches /bytes through that origin's
    // Service Worker (which gets its tunnel port from the first tab's bridge).
    await openTab(page, "Browse");
    await page.getByRole("button", { name: "Go" }).click(); // registers the worker, shows the page
    await page.getByTestId("browse-origin").getByText("wiregate.localhost").waitFor();
    const tab = await context.newPage();
    await tab.goto(`${browseOriginOf(page.url(), "v4-80-10-99-0-1")}/`);
    // Pings through the tunnel while the download runs (the Tools screen, in the first tab).
    await openTab(page, "Tools");
    await page.getByLabel("Destination").fill("10.99.0.1");
    await page.getByLabel("Count").fill("10000");
    await page.getByLabel("Interval (ms)").fill(String(PING_MS));
    await page.getByLabel("Payload (bytes)", { exact: true }).fill("56");
    await page.getByRole("button", { name: "Start ping" }).click();
    const longBefore = await page.evaluate(
      () => (window as unknown as { wiregateLongTasks: number[] }).wiregateLongTasks.length,
    );
    const http = await tab.evaluate(async (n) => {
      const start = performance.now();
      const response = await fetch(`/bytes?n=${n}`);
      const reader = response.body!.getReader();
      let length = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        length += value.length;
      }
      return { length, seconds: (performance.now() - start) / 1000, status: response.status };
    }, BYTES);
    const stop = page.getByRole("button", { name: "Stop", exact: true });
    if (await stop.isEnabled()) await stop.click();
    else
      process.stdout.write(
        `ping had ended: ${await page.getByTestId("ping-log").textContent()} ${await page.getByTestId("ping-summary").textContent()}\n`,
      );
    const rtts = (await page.locator('[data-testid="ping-log"] li.reply').allTextContents())
      .map((line) => Number(/time=([\d.]+) ms/.exec(line)?.[1]))
      .filter((ms) => Number.isFinite(ms))
      .sort((a, b) => a - b);
    const pingsLost = await page.locator('[data-testid="ping-log"] li.lost').count();
    const longTasks = (
      await page.evaluate(
        () => (window as unknown as { wiregateLongTasks: number[] }).wiregateLongTasks,
      )
    ).slice(longBefore);
    const httpMbit = (http.length * 8) / 1e6 / http.seconds;
    const summary = {
      carriage: name,
      transport,
      httpBytes: http.length,
      httpSeconds: Number(http.seconds.toFixed(2)),
      httpMbitPerSecond: Number(httpMbit.toFixed(1)),
      rawMbitPerSecond: Number(raw.megabitsPerSecond.toFixed(1)),
      tunnelFloodMbitPerSecond: Number(tunnel.megabitsPerSecond.toFixed(1)),
      tunnelFloodVsRaw: Number((tunnel.megabitsPerSecond / raw.megabitsPerSecond).toFixed(2)),
      ratio: Number((httpMbit / raw.megabitsPerSecond).toFixed(2)),
      pingsDuringDownload: rtts.length,
      pingsLost,
      pingRttMs: {
        p50: Number(percentile(rtts, 50).toFixed(1)),
        p95: Number(percentile(rtts, 95).toFixed(1)),
        max: Number((rtts.at(-1) ?? Number.NaN).toFixed(1)),
      },
      longTasksOver50ms: longTasks.length,
      longestTaskMs: longTasks.length ? Math.max(...longTasks) : 0,
    };
    return summary;
  };
  const summaries = [];
  for (const carriage of BENCH_CASES) summaries.push(await measure(carriage));
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "http-bench.json"), `${JSON.stringify(summaries, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summaries, null, 2)}\n`);
  for (const summary of summaries) expect(summary.httpBytes).toBe(BYTES);
});
