/**
 * HTTP through the tunnel in the page: a download from the demo peer's /bytes through the Browse
 * screen's path (Service Worker → tunnel worker → netstack TCP → relay → demo peer), next to the
 * raw datagram goodput of the same transport in the same run, and the main thread's long tasks; on
 * both transports (native HTTP/3, and the WebSocket fallback). Writes test-results/http-bench.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DemoPeer } from "@wiregate/relay";
import { afterAll, expect, it } from "vitest";
import type { FloodResult } from "../src/protocol.js";
import {
  browser,
  localPageUrl,
  newContext,
  open,
  openTab,
  RESULTS,
  requireBuild,
  startRelay,
} from "../test/stack.js";
import { startUdpEcho } from "./udp-echo.js";

const BYTES = Number(process.env.BENCH_HTTP_BYTES ?? 10 * 1024 * 1024);
const closers: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

it("HTTP download through the tunnel vs raw datagram goodput", async () => {
  requireBuild();
  const demo = await DemoPeer.start();
  closers.push(() => demo.close());
  const echo = await startUdpEcho(closers);
  const chromium = await browser();
  closers.push(() => chromium.close());

  /** One transport: relay with HTTP/3 on (native) or off (WebSocket), page from its loopback
   * plain-HTTP listener (a secure context for the Service Worker, no certificate to trust). */
  const measure = async (http3: boolean) => {
    const relay = await startRelay(
      [{ name: "demo", host: demo.host, port: demo.port, publicKey: demo.publicKey }, echo],
      0,
      http3,
      true,
    );
    closers.push(() => relay.stop());
    const context = await newContext(chromium, undefined, true);
    const page = await context.newPage();
    await open(page, localPageUrl(relay.address, { peer: demo.publicKey }));
    await page.getByRole("button", { name: "Generate key pair" }).click();
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    await expect
      .poll(() => page.getByTestId("badge").textContent(), { timeout: 15_000 })
      .toMatch(http3 ? /^Connected · WebTransport \(HTTP\/3\)/ : /^Connected · WebSocket/);
    const transport = await page.getByTestId("badge").textContent();

    // Raw datagram goodput of the same transport (the Tools screen's flood, "raw" mode).
    await openTab(page, "Tools");
    await page.getByLabel("Mode").selectOption("raw");
    await page.getByLabel("Seconds").fill("5");
    await page.getByLabel("Datagram payload (bytes)").fill("1200");
    await page.getByRole("button", { name: "Run" }).click();
    const result = page.locator('[data-testid="flood-result"][data-result]');
    await result.waitFor({ state: "attached", timeout: 30_000 });
    const raw = JSON.parse((await result.getAttribute("data-result")) ?? "{}") as FloodResult;

    // The Browse path: a tab under the Service Worker's scope fetches /bytes from the demo peer.
    await openTab(page, "Browse");
    await page.getByRole("button", { name: "Go" }).click(); // registers the worker, shows the page
    const base = relay.address.localHttpUrl!;
    const tab = await context.newPage();
    await tab.goto(`${base}browse/10.99.0.1/`);
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
    const longTasks = (
      await page.evaluate(
        () => (window as unknown as { wiregateLongTasks: number[] }).wiregateLongTasks,
      )
    ).slice(longBefore);
    const httpMbit = (http.length * 8) / 1e6 / http.seconds;
    const summary = {
      transport,
      httpBytes: http.length,
      httpSeconds: Number(http.seconds.toFixed(2)),
      httpMbitPerSecond: Number(httpMbit.toFixed(1)),
      rawMbitPerSecond: Number(raw.megabitsPerSecond.toFixed(1)),
      ratio: Number((httpMbit / raw.megabitsPerSecond).toFixed(2)),
      longTasksOver50ms: longTasks.length,
      longestTaskMs: longTasks.length ? Math.max(...longTasks) : 0,
    };
    return summary;
  };
  const summaries = [await measure(true), await measure(false)];
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "http-bench.json"), `${JSON.stringify(summaries, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summaries, null, 2)}\n`);
  for (const summary of summaries) expect(summary.httpBytes).toBe(BYTES);
});
