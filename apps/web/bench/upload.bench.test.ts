/**
 * The page's uploads against its downloads through the tunnel, in Chromium and Firefox ESR, in one
 * run: Browse in a frame fetches BENCH_UPLOAD_BYTES (default 20 MB) from a kernel HTTP server behind
 * wireguard-go in a namespace and PUTs as many bytes back, over the HTTP/3 stream carriage (or the
 * carriages named in BENCH_CARRIAGES, e.g. "HTTP/3 stream,WebSocket"), each browser in turn,
 * BENCH_ROUNDS rounds each (default 2). Prints per browser and carriage the rates, upload ÷
 * download of the same round, Chromium's upload ÷ Firefox's, and per process the share of the
 * upload spent on a CPU and waiting for one (sched.ts). Writes test-results/upload-bench.json.
 * What the numbers mean: docs/performance.md, "What limits the page's uploads without loss".
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startHttpServer } from "../../../test/helpers/http-server.js";
import { startWireGuardPeer, type WireGuardPeer } from "../../../test/helpers/netns.js";
import { browse, inFrame } from "../test/browse-screen.js";
import {
  BROWSERS,
  type BrowserName,
  browser,
  CARRIAGES,
  connectTunnel,
  newContext,
  openForPeer,
  pageKeyPair,
  RESULTS,
  startStack,
  wgUpstream,
} from "../test/stack.js";
import { cpuShares, schedTimes } from "./sched.js";

const BYTES = Number(process.env.BENCH_UPLOAD_BYTES ?? 20_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** BENCH_BROWSERS and BENCH_CARRIAGES (names, comma-separated) narrow or widen the cases. */
const BROWSER_NAMES = (process.env.BENCH_BROWSERS?.split(",") ?? BROWSERS) as BrowserName[];
const CARRIAGE_CASES = CARRIAGES.filter((c) =>
  (process.env.BENCH_CARRIAGES?.split(",") ?? ["HTTP/3 stream"]).includes(c.name),
);
const client = pageKeyPair();
let peer: WireGuardPeer;
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "wiregate-upload-bench-"));
  writeFileSync(join(directory, "index.html"), "<!doctype html><title>upload bench</title>");
  peer = await startWireGuardPeer({
    addresses: ["10.79.0.1/24"],
    peers: [{ publicKey: client.publicKey, allowedIPs: ["10.79.0.2/32"] }],
    logLevel: "error",
  });
  await startHttpServer(peer.ns, 8080, directory);
}, 60_000);

afterAll(async () => {
  await peer?.stop();
  rmSync(directory, { recursive: true, force: true });
});

const megabits = (seconds: number) => Number(((BYTES * 8) / seconds / 1e6).toFixed(1));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

it("uploads against downloads through the tunnel, Chromium and Firefox", {
  timeout: 900_000,
}, async () => {
  const results: Record<string, { down: number[]; up: number[]; cpu: object[] }> = {};
  const run = async (name: BrowserName, carriage: (typeof CARRIAGES)[number]) => {
    const stack = await startStack([wgUpstream(peer)], carriage.http3, true);
    const launched = await browser(name);
    try {
      const page = await (await newContext(launched, undefined, true)).newPage();
      await openForPeer(page, stack.relay.address, {
        client,
        peerPublicKey: peer.publicKey,
        addresses: ["10.79.0.2/32"],
        allowedIPs: ["10.79.0.0/24"],
        carriage: carriage.carriage,
      });
      await connectTunnel(page);
      const frame = await browse(page, "http://10.79.0.1:8080/", "v4-8080-10-79-0-1");
      const mine = { down: [] as number[], up: [] as number[], cpu: [] as object[] };
      const key = `${name}, ${carriage.name}`;
      results[key] = mine;
      for (let round = 0; round < ROUNDS; round++) {
        const down = await inFrame(
          frame,
          async (n: number) => {
            const started = performance.now();
            const body = await (await fetch(`/bytes/${n}`)).arrayBuffer();
            return { seconds: (performance.now() - started) / 1000, length: body.byteLength };
          },
          BYTES,
        );
        expect(down.length).toBe(BYTES);
        const before = schedTimes();
        const startedAt = performance.now();
        const up = await inFrame(
          frame,
          async (n: number) => {
            const body = new Uint8Array(n);
            for (let i = 0; i < n; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
            const started = performance.now();
            const answer = await (await fetch("/upload", { method: "PUT", body })).text();
            return { seconds: (performance.now() - started) / 1000, answer: answer.trim() };
          },
          BYTES,
        );
        expect(up.answer).toMatch(/^[0-9a-f]{64}$/);
        mine.cpu.push(cpuShares(before, schedTimes(), performance.now() - startedAt));
        mine.down.push(megabits(down.seconds));
        mine.up.push(megabits(up.seconds));
        console.info(
          `upload bench: ${key} round ${round + 1}: down ${mine.down.at(-1)} Mbit/s, up ${mine.up.at(-1)} Mbit/s`,
        );
      }
    } finally {
      await launched.close();
      await stack.close();
    }
  };
  for (const name of BROWSER_NAMES)
    for (const carriage of CARRIAGE_CASES) await run(name, carriage);
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, r]) => [
      name,
      {
        downMbitPerSecond: r.down,
        upMbitPerSecond: r.up,
        upOverDown: r.up.map((up, i) => Number((up / r.down[i]!).toFixed(2))),
        cpuDuringUpload: r.cpu,
      },
    ]),
  );
  const report = {
    bytes: BYTES,
    rounds: ROUNDS,
    ...summary,
    /** Of each carriage: Chromium's upload ÷ Firefox's (faster rounds). */
    chromiumUpOverFirefoxUp: Object.fromEntries(
      CARRIAGE_CASES.filter(
        (c) => results[`chromium, ${c.name}`] && results[`firefox, ${c.name}`],
      ).map((c) => [
        c.name,
        Number(
          (
            median(results[`chromium, ${c.name}`]!.up) / median(results[`firefox, ${c.name}`]!.up)
          ).toFixed(2),
        ),
      ]),
    ),
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "upload-bench.json"), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
});
