/**
 * Where the tunnel worker's CPU goes per echoed datagram over HTTP/3: a CDP profile of the page's
 * workers during a tunnel flood and a raw flood, summarised by source (bench/worker-profile.ts).
 * With BENCH_BASELINE_DIST, another build of the page is profiled the same way, alternating; with
 * BENCH_CARRIAGE=stream, the pages carry every message on the message stream. BENCH_ALLOCATIONS=1
 * also samples the workers' JavaScript heap allocations during each flood (garbage included) and
 * gives the bytes allocated per echoed message, by source (the sampling adds CPU time of its own).
 * Writes test-results/worker-profile.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DemoPeer } from "@wiregate/relay";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import { chromiumBrowser, DIST, demoUpstream, RESULTS, requireBuild } from "../test/stack.js";
import { connectedPage, flood } from "./flood-page.js";
import { startUdpEcho } from "./udp-echo.js";
import { summarise, summariseAllocations, WorkerProfiler } from "./worker-profile.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** 1,100 bytes: 1,168-byte WireGuard messages, which stay HTTP/3 datagrams. */
const PAYLOAD = Number(process.env.BENCH_PAYLOAD ?? 1100);
const BASELINE = process.env.BENCH_BASELINE_DIST;
/** The carriage the pages ask for: datagrams (default) or the stream (BENCH_CARRIAGE=stream). */
const CARRIAGE = process.env.BENCH_CARRIAGE === "stream" ? "stream" : "datagrams";
const ALLOCATIONS = process.env.BENCH_ALLOCATIONS === "1";
/** Setup, then 2 floods a round per build, each with up to 15 s to report. */
const TIMEOUT_MS = 60_000 + (BASELINE ? 2 : 1) * ROUNDS * 2 * (SECONDS + 15) * 1000;
const closers = closeAfterAll();

it(
  "the tunnel worker's CPU per datagram, by source",
  async () => {
    requireBuild();
    const demo = await DemoPeer.start();
    closers.push(() => demo.close());
    const echo = await startUdpEcho(closers);
    const upstreams = [demoUpstream(demo), echo];
    const chromium = await chromiumBrowser();
    closers.push(() => chromium.close());
    const builds = [];
    for (const dist of [DIST, ...(BASELINE ? [BASELINE] : [])]) {
      const page = await connectedPage({
        chromium,
        upstreams,
        demoPublicKey: demo.publicKey,
        closers,
        dist,
        carriage: CARRIAGE,
        http3: true,
        badge: "WebTransport \\(HTTP/3\\)",
      });
      builds.push({
        dist,
        page,
        profiler: await WorkerProfiler.attach(page),
        totals: {} as Totals,
      });
    }
    type Totals = Record<
      string,
      { received: number; us: Map<string, number>; bytes: Map<string, number> }
    >;

    for (let round = 0; round < ROUNDS; round++) {
      // Which build goes first alternates: the first of a round measured consistently differently.
      for (const build of round % 2 ? [...builds].reverse() : builds) {
        for (const mode of ["tunnel", "raw"] as const) {
          await build.profiler.start();
          if (ALLOCATIONS) await build.profiler.startAllocations();
          const result = await flood(build.page, mode, SECONDS, PAYLOAD);
          build.totals[mode] ??= { received: 0, us: new Map(), bytes: new Map() };
          const total = build.totals[mode];
          total.received += result.received;
          const assets = join(build.dist, "assets");
          if (ALLOCATIONS) {
            for (const profile of await build.profiler.stopAllocations()) {
              for (const [kind, bytes] of summariseAllocations(profile, assets)) {
                total.bytes.set(kind, (total.bytes.get(kind) ?? 0) + bytes);
              }
            }
          }
          for (const profile of await build.profiler.stop()) {
            for (const [kind, us] of summarise(profile, assets)) {
              total.us.set(kind, (total.us.get(kind) ?? 0) + us);
            }
          }
        }
      }
    }

    /** Busy µs per datagram, and each source's share of the busy time (the larger ones). */
    const report = ({ received, us, bytes }: Totals[string]) => {
      const busy = [...us].filter(([kind]) => kind !== "idle").reduce((a, [, t]) => a + t, 0);
      const shares = [...us]
        .filter(([kind]) => kind !== "idle")
        .sort((a, b) => b[1] - a[1])
        .filter(([, t]) => t / busy >= 0.01)
        .map(([kind, t]) => [kind, `${((100 * t) / busy).toFixed(1)} %`]);
      const allocated = [...bytes.values()].reduce((a, b) => a + b, 0);
      const perMessage = (n: number) => Math.round(n / Math.max(1, received));
      return {
        received,
        busyUsPerDatagram: Math.round(busy / Math.max(1, received)),
        shares: Object.fromEntries(shares),
        ...(ALLOCATIONS
          ? {
              heapBytesPerDatagram: perMessage(allocated),
              heapBytesPerDatagramBySource: Object.fromEntries(
                [...bytes]
                  .sort((a, b) => b[1] - a[1])
                  .filter(([, n]) => n / allocated >= 0.01)
                  .map(([kind, n]) => [kind, perMessage(n)]),
              ),
            }
          : {}),
      };
    };
    const summary = Object.fromEntries(
      builds.map((b, i) => [
        `${i === 0 ? "this" : `baseline (${b.dist})`}, ${CARRIAGE}`,
        Object.fromEntries(Object.entries(b.totals).map(([mode, t]) => [mode, report(t)])),
      ]),
    );
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, "worker-profile.json"), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    expect(builds.every((b) => (b.totals.tunnel?.received ?? 0) > 0)).toBe(true);
  },
  TIMEOUT_MS,
);
