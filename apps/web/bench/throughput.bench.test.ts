/**
 * In-page tunnel throughput through the relay to the demo peer (UDP echo flood inside WireGuard)
 * over native HTTP/3 and over the WebSocket fallback, each next to the raw datagram echo throughput
 * of the same transport in the same run (WireGuard-shaped datagrams of the same size to a raw UDP echo
 * upstream), and the main thread's longest task. The demo peer runs in this process's thread
 * ("inline", the library's `DemoPeer`) or on a worker thread ("thread", `DemoPeerThread`, what the
 * relay's CLI runs): BENCH_DEMO=both (default) measures the two alternately in one run. With
 * BENCH_BASELINE_DIST (another build's `dist/`, e.g. of the previous commit), that build's pages
 * run the same floods too, alternating with this build's, for a before/after in one run.
 * Writes test-results/bench.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DemoPeer, DemoPeerThread } from "@wiregate/relay";
import type { Page } from "playwright-core";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import type { FloodResult } from "../src/protocol.js";
import {
  chromiumBrowser,
  connectTunnel,
  DIST,
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
import { startUdpEcho } from "./udp-echo.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** Inner UDP payload: 1200 makes 1264-byte WireGuard messages, above Chromium's HTTP/3 datagram
 * limit (~1211), so over HTTP/3 they take the message stream; 1100 (1168 bytes) stays datagrams. */
const PAYLOAD = Number(process.env.BENCH_PAYLOAD ?? 1200);
type DemoKind = "inline" | "thread";
const DEMOS: DemoKind[] =
  process.env.BENCH_DEMO === "inline" || process.env.BENCH_DEMO === "thread"
    ? [process.env.BENCH_DEMO]
    : ["inline", "thread"];
/** This build's pages, then (with BENCH_BASELINE_DIST) another build's: index 0 and 1. */
const BUILDS = [
  DIST,
  ...(process.env.BENCH_BASELINE_DIST ? [process.env.BENCH_BASELINE_DIST] : []),
];
/** Setup, then every flood of every round, each with up to 15 s to report. */
const TIMEOUT_MS = 60_000 + BUILDS.length * ROUNDS * 2 * (1 + DEMOS.length) * (SECONDS + 15) * 1000;
const closers = closeAfterAll();

it(
  "tunnel vs raw transport throughput, and main-thread long tasks",
  async () => {
    requireBuild();
    const demos = new Map<DemoKind, { publicKey: string; host: string; port: number }>();
    for (const kind of DEMOS) {
      const demo = kind === "inline" ? await DemoPeer.start() : await DemoPeerThread.start();
      closers.push(() => demo.close());
      demos.set(kind, demo);
    }
    const echo = await startUdpEcho(closers);
    const upstreams = [
      ...[...demos].map(([kind, demo]) => ({
        name: `demo-${kind}`,
        host: demo.host,
        port: demo.port,
        publicKey: demo.publicKey,
      })),
      echo,
    ];
    const chromium = await chromiumBrowser();
    closers.push(() => chromium.close());
    /** Relays by build and transport: each build's page is served by relays of its own. */
    const relays = new Map<string, RunningRelay>();
    for (const [build, dist] of BUILDS.entries()) {
      for (const http3 of [true, false]) {
        const relay = await startRelay(upstreams, 0, http3, false, dist);
        closers.push(() => relay.stop());
        relays.set(`${build} ${http3}`, relay);
      }
    }
    /** A page connected to a demo peer through a relay with HTTP/3 on (native) or off (WebSocket). */
    const connectedPage = async (http3: boolean, badge: string, kind: DemoKind, build: number) => {
      const relay = relays.get(`${build} ${http3}`)!;
      const page = await (await newContext(chromium)).newPage();
      const peer = demos.get(kind)!.publicKey;
      await open(page, pageUrl(relay.address, { peer, upstream: `demo-${kind}` }));
      await page.getByRole("button", { name: "Generate key pair" }).click();
      await connectTunnel(page, new RegExp(`^Connected · ${badge}`), 15_000);
      await openTab(page, "Tools");
      return page;
    };
    const pages = new Map<string, Page>();
    for (const build of BUILDS.keys()) {
      for (const kind of DEMOS) {
        const http3Badge = "WebTransport \\(HTTP/3\\)";
        pages.set(`${build} http3 ${kind}`, await connectedPage(true, http3Badge, kind, build));
        pages.set(
          `${build} websocket ${kind}`,
          await connectedPage(false, "WebSocket", kind, build),
        );
      }
    }
    const page = pages.get(`0 http3 ${DEMOS[0]}`)!;
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
    type Transport = "http3" | "websocket";
    /** "raw", or the tunnel with the demo peer inline or on its thread. */
    type Path = "raw" | `tunnel ${DemoKind}`;
    type Run = FloodResult & {
      /** Index into BUILDS: 0 this build, 1 the baseline. */
      build: number;
      transport: Transport;
      path: Path;
      cpuUsPerDatagram: Record<string, number>;
    };
    const run = async (build: number, transport: Transport, path: Path): Promise<Run> => {
      const kind = path === "raw" ? DEMOS[0] : path.slice("tunnel ".length);
      const page = pages.get(`${build} ${transport} ${kind}`)!;
      const before = schedTimes();
      await page.getByLabel("Mode").selectOption(path === "raw" ? "raw" : "tunnel");
      await page.getByLabel("Seconds").fill(String(SECONDS));
      await page.getByLabel("Datagram payload (bytes)").fill(String(PAYLOAD));
      await page.getByRole("button", { name: "Run" }).click();
      const result = page.locator('[data-testid="flood-result"][data-result]');
      await result.waitFor({ state: "attached", timeout: SECONDS * 1000 + 15_000 });
      const flood = JSON.parse((await result.getAttribute("data-result")) ?? "{}") as FloodResult;
      return {
        ...flood,
        build,
        transport,
        path,
        cpuUsPerDatagram: cpuPerDatagram(before, flood.received),
      };
    };

    // Alternating, so a change in the machine's load falls on every path alike; the two demo peers,
    // and the two builds, take turns going first.
    const runs: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const kinds = round % 2 === 0 ? DEMOS : [...DEMOS].reverse();
      const builds = round % 2 === 0 ? [...BUILDS.keys()] : [...BUILDS.keys()].reverse();
      const paths: Path[] = ["raw", ...kinds.map((kind) => `tunnel ${kind}` as const)];
      for (const build of builds)
        for (const transport of ["http3", "websocket"] as const)
          for (const path of paths) runs.push(await run(build, transport, path));
    }
    const probe = await page.evaluate(() => {
      const w = window as unknown as { lag: number; wiregateLongTasks: number[] };
      return { lag: w.lag, longTasks: w.wiregateLongTasks };
    });
    const longTasks = probe.longTasks.slice(longBefore);
    const of = (transport: Transport, path: Path, build = 0) =>
      runs.filter((x) => x.build === build && x.transport === transport && x.path === path);
    const mean = (transport: Transport, path: Path, build = 0) => {
      const r = of(transport, path, build);
      return r.reduce((a, x) => a + x.datagramsPerSecond, 0) / r.length;
    };
    /** µs on a CPU per echoed datagram by process over all the runs (weighted by datagrams). */
    const cpuOverRuns = (runs: Run[]) => {
      const received = runs.reduce((a, x) => a + x.received, 0);
      const us: Record<string, number> = {};
      for (const r of runs) {
        for (const [kind, v] of Object.entries(r.cpuUsPerDatagram)) {
          us[kind] = (us[kind] ?? 0) + (v * r.received) / Math.max(1, received);
        }
      }
      return Object.fromEntries(Object.entries(us).map(([kind, v]) => [kind, Math.round(v)]));
    };
    /** Losses of one path, summed over its runs: the flood's own count and the transport's. */
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
    /** Per transport and path: datagrams/s, against raw, losses, CPU per datagram (all runs). */
    const byPath = (build: number) =>
      Object.fromEntries(
        (["http3", "websocket"] as const).map((transport) => {
          const raw = mean(transport, "raw", build);
          const paths: Path[] = ["raw", ...DEMOS.map((kind) => `tunnel ${kind}` as const)];
          return [
            transport,
            Object.fromEntries(
              paths.map((path) => [
                path,
                {
                  datagramsPerSecond: Math.round(mean(transport, path, build)),
                  vsRaw: Number((mean(transport, path, build) / raw).toFixed(2)),
                  losses: losses(of(transport, path, build)),
                  cpuUsPerDatagram: cpuOverRuns(of(transport, path, build)),
                },
              ]),
            ),
          ];
        }),
      );
    const summary = {
      seconds: SECONDS,
      rounds: ROUNDS,
      datagramBytes: runs[0]?.datagramBytes,
      demoPeers: DEMOS,
      rawHttp3VsRawWebSocket: Number((mean("http3", "raw") / mean("websocket", "raw")).toFixed(2)),
      ...byPath(0),
      ...(BUILDS[1] ? { baseline: { dist: BUILDS[1], ...byPath(1) } } : {}),
      longTasksOver50ms: longTasks.length,
      longestTaskMs: longTasks.length ? Math.max(...longTasks) : 0,
      maxTimerLagMs: Number(probe.lag.toFixed(1)),
      runs,
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, "bench.json"), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify({ ...summary, runs: undefined }, null, 2)}\n`);
    expect(runs.every((r) => r.received > 0)).toBe(true);
  },
  TIMEOUT_MS,
);
