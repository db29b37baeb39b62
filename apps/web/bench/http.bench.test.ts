/**
 * HTTP through the tunnel in the page: a download from the demo peer's /bytes through the Browse
 * screen's path (Service Worker → tunnel worker → netstack TCP → relay → demo peer), next to the
 * raw goodput of the same transport and carriage in the same run, the pings' round trips through
 * the tunnel during the download (p50/p95/max), and the main thread's long tasks; on every
 * carriage (HTTP/3 datagrams, HTTP/3 stream, the WebSocket fallback). 50 MB by default
 * (BENCH_HTTP_BYTES). With BENCH_BASELINE_DIST (another build's `dist/`), that build's page
 * downloads the same bytes over HTTP/3 before and after this build's cases, and each case's
 * download is given as a ratio to it. BENCH_CASES picks cases by name, BENCH_DEMO=thread|both
 * puts the demo peer on a worker thread (or measures both). Writes test-results/http-bench.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DemoPeer, DemoPeerThread } from "@wiregate/relay";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import type { FloodResult } from "../src/protocol.js";
import {
  browsePageUrl,
  CARRIAGES,
  type CarriageCase,
  chromiumBrowser,
  connectTunnel,
  demoUpstream,
  localPageUrl,
  newContext,
  open,
  openTab,
  RESULTS,
  requireBuild,
  startRelay,
} from "../test/stack.js";
import { browseTab, download, pingsDuring } from "./browse-download.js";
import { percentile } from "./percentile.js";
import { startUdpEcho } from "./udp-echo.js";

const BYTES = Number(process.env.BENCH_HTTP_BYTES ?? 50_000_000);
/** Another build's `dist/` (e.g. of the commit before a change): its Browse download, same run. */
const BASELINE = process.env.BENCH_BASELINE_DIST;
/** The tests' carriages, and WebSocket with datagrams: what `auto` picks is measured here. */
interface BenchCase {
  name: string;
  http3: boolean;
  carriage: CarriageCase["carriage"];
}
const ALL_CASES: BenchCase[] = [
  ...CARRIAGES,
  { name: "WebSocket datagrams", http3: false, carriage: "datagrams" },
];
/** BENCH_CASES=name,name: only those cases (e.g. "HTTP/3 datagrams,HTTP/3 stream"). */
const BENCH_CASES = process.env.BENCH_CASES
  ? ALL_CASES.filter((c) => process.env.BENCH_CASES!.split(",").includes(c.name))
  : ALL_CASES;
/**
 * Where the demo peer runs: in the relay's process and event loop ("inline", the default, as in
 * the tests' stack), on a worker thread of its own ("thread", as the CLI's --demo-thread), or
 * both, every case once with each in the same run ("both").
 */
const DEMOS = (
  process.env.BENCH_DEMO === "both" ? ["inline", "thread"] : [process.env.BENCH_DEMO ?? "inline"]
) as ("inline" | "thread")[];
/** Pings through the tunnel during the download, one per PING_MS. */
const PING_MS = 50;

const closers = closeAfterAll();

it("HTTP download through the tunnel vs raw datagram goodput", { timeout: 1_200_000 }, async () => {
  requireBuild();
  const demos = {
    inline: DEMOS.includes("inline") ? await DemoPeer.start() : undefined,
    thread: DEMOS.includes("thread") ? await DemoPeerThread.start() : undefined,
  };
  for (const d of Object.values(demos)) if (d) closers.push(() => d.close());
  let demo = (demos.inline ?? demos.thread)!;
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

    const tab = await browseTab(context, page);
    const longBefore = await page.evaluate(
      () => (window as unknown as { wiregateLongTasks: number[] }).wiregateLongTasks.length,
    );
    // The relay's messages by the carriage they took, during the download only.
    const carried = () => structuredClone(relay.relay.counters.carried);
    const carriedBefore = carried();
    // Pings through the tunnel while the download runs (the Tools screen, in the first tab).
    const {
      result: http,
      rtts,
      lost: pingsLost,
    } = await pingsDuring(page, PING_MS, () => download(tab, BYTES));
    const carriedAfter = carried();
    const lanes = (direction: "to_client" | "to_upstream") =>
      Object.fromEntries(
        Object.entries(carriedAfter[direction]).map(([lane, n]) => [
          lane,
          n - carriedBefore[direction][lane as keyof (typeof carriedAfter)[typeof direction]],
        ]),
      );
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
      /** Messages the relay carried during the download, by lane (a message above the datagram
       * limit takes the stream even with the datagram carriage). */
      downloadMessagesToPage: lanes("to_client"),
      downloadMessagesFromPage: lanes("to_upstream"),
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
  /**
   * Another build's page (BENCH_BASELINE_DIST) from a relay of this build, over HTTP/3 with that
   * page's default carriage: only its Browse download (its other screens may differ).
   */
  const baselineDownload = async (dist: string) => {
    const relay = await startRelay([demoUpstream(demo), echo], 0, true, true, dist);
    closers.push(() => relay.stop());
    const context = await newContext(chromium, undefined, true);
    const page = await context.newPage();
    await open(page, localPageUrl(relay.address, { peer: demo.publicKey }));
    await page.getByRole("button", { name: "Generate key pair" }).click();
    await connectTunnel(page, /^Connected · WebTransport \(HTTP\/3\)/, 15_000);
    // The previous build's Browse served the tunnel under /browse/ of the page's own origin.
    const http = await download(await browseTab(context, page, relay.address.localHttpUrl!), BYTES);
    await context.close();
    expect(http.length).toBe(BYTES);
    return (http.length * 8) / 1e6 / http.seconds;
  };
  const summaries = [];
  // The baseline before and after this build's cases: two samples of the same run's noise.
  const baseline: number[] = [];
  if (BASELINE) baseline.push(await baselineDownload(BASELINE));
  for (const carriage of BENCH_CASES)
    for (const kind of DEMOS) {
      demo = demos[kind]!;
      summaries.push({ demo: kind, ...(await measure(carriage)) });
    }
  if (BASELINE) baseline.push(await baselineDownload(BASELINE));
  const baselineMean = baseline.reduce((a, b) => a + b, 0) / (baseline.length || 1);
  const report = {
    cases: summaries.map((summary) => ({
      ...summary,
      ...(BASELINE
        ? { httpVsBaseline: Number((summary.httpMbitPerSecond / baselineMean).toFixed(2)) }
        : {}),
    })),
    ...(BASELINE
      ? {
          baseline: {
            dist: BASELINE,
            httpMbitPerSecond: baseline.map((v) => Number(v.toFixed(1))),
          },
        }
      : {}),
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "http-bench.json"), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  for (const summary of summaries) expect(summary.httpBytes).toBe(BYTES);
  expect(summaries.length).toBe(BENCH_CASES.length * DEMOS.length);
});
