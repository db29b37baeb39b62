/**
 * The browsers of BROWSERS side by side in one run, so the machine's load falls on both alike: over
 * native HTTP/3 to the relay, the raw datagram ceiling (the Tools screen's raw flood: WireGuard-shaped
 * datagrams to a UDP echo upstream, nothing decrypted), the tunnel flood (UDP echo inside WireGuard
 * to the demo peer on its thread, as the relay's CLI runs it), each on the datagram carriage and on
 * the message stream, and a Browse download (Service Worker → tunnel worker → netstack TCP →
 * demo peer's /bytes). Rounds alternate the browsers, which goes first swapping each round.
 * Prints each browser's numbers and Firefox's ratio to Chromium; writes
 * test-results/browsers-bench.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DemoPeerThread } from "@wiregate/relay";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import { evaluateInFrame } from "../../../test/helpers/frames.js";
import type { FloodResult } from "../src/protocol.js";
import {
  BROWSERS,
  type BrowserName,
  browseOriginOf,
  browsePageUrl,
  browser,
  connectTunnel,
  demoUpstream,
  newContext,
  open,
  openTab,
  RESULTS,
  requireBuild,
  startRelay,
  type TestPage,
} from "../test/stack.js";
import { startUdpEcho } from "./udp-echo.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** 1,100-byte payloads: 1,168-byte messages, under both browsers' HTTP/3 datagram limits. */
const PAYLOAD = Number(process.env.BENCH_PAYLOAD ?? 1100);
const BYTES = Number(process.env.BENCH_HTTP_BYTES ?? 10 * 1024 * 1024);
const CARRIAGES = ["datagrams", "stream"] as const;
type Carriage = (typeof CARRIAGES)[number];
const TIMEOUT_MS = 120_000 + ROUNDS * BROWSERS.length * (4 * (SECONDS + 15) + 60) * 1000;

const closers = closeAfterAll();

it(
  "Chromium and Firefox ESR: raw ceiling, tunnel flood and Browse download over HTTP/3",
  async () => {
    requireBuild();
    const demo = await DemoPeerThread.start();
    closers.push(() => demo.close());
    const echo = await startUdpEcho(closers);
    const relay = await startRelay([demoUpstream(demo), echo], 0, true, true);
    closers.push(() => relay.stop());

    /** A page of `name` on the loopback listener (a secure context for the Service Worker). */
    const pages = new Map<string, TestPage>();
    for (const name of BROWSERS) {
      const b = await browser(name);
      closers.push(() => b.close());
      for (const carriage of CARRIAGES) {
        const page = await (await newContext(b, undefined, true)).newPage();
        await open(page, browsePageUrl(relay.address, { peer: demo.publicKey, carriage }));
        await page.getByRole("button", { name: "Generate key pair" }).click();
        await connectTunnel(page, /^Connected · WebTransport \(HTTP\/3\)/);
        pages.set(`${name} ${carriage}`, page);
      }
    }

    const flood = async (page: TestPage, mode: "raw" | "tunnel"): Promise<FloodResult> => {
      await openTab(page, "Tools");
      await page.getByLabel("Mode").selectOption(mode);
      await page.getByLabel("Seconds").fill(String(SECONDS));
      await page.getByLabel("Datagram payload (bytes)").fill(String(PAYLOAD));
      await page.getByRole("button", { name: "Run" }).click();
      const result = page.locator('[data-testid="flood-result"][data-result]');
      await result.waitFor({ state: "attached", timeout: SECONDS * 1000 + 15_000 });
      const parsed = JSON.parse((await result.getAttribute("data-result")) ?? "{}") as FloodResult;
      // The next run's result must be its own.
      await page.evaluate(() =>
        document.querySelector('[data-testid="flood-result"]')?.removeAttribute("data-result"),
      );
      return parsed;
    };
    /** Mbit/s of a download of BYTES from the demo peer through the Browse path. */
    const download = async (page: TestPage): Promise<number> => {
      await openTab(page, "Browse");
      await page
        .getByRole("textbox", { name: "Web address inside the tunnel" })
        .fill("http://10.99.0.1/");
      await page.getByRole("button", { name: "Go" }).click(); // registers the Service Worker
      // The fetch runs in the frame (its own origin), through that origin's Service Worker.
      const origin = browseOriginOf(page.url(), "v4-80-10-99-0-1");
      const shown = (url: string) => url.startsWith(`${origin}/`) && !url.includes("/__wiregate/");
      await evaluateInFrame(page, shown, () => {
        if (!document.querySelector("h1")) throw new Error("not shown yet");
      });
      const result = await evaluateInFrame(
        page,
        shown,
        async (n: number) => {
          const start = performance.now();
          const response = await fetch(`/bytes?n=${n}`);
          const reader = response.body!.getReader();
          let length = 0;
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            length += value.length;
          }
          return { length, seconds: (performance.now() - start) / 1000 };
        },
        BYTES,
      );
      expect(result.length).toBe(BYTES);
      return (result.length * 8) / 1e6 / result.seconds;
    };

    type Measure = "raw datagrams" | `tunnel ${Carriage}` | "raw stream" | "browse download";
    const samples = new Map<string, number[]>();
    const add = (name: BrowserName, measure: Measure, value: number) => {
      const key = `${name} ${measure}`;
      samples.set(key, [...(samples.get(key) ?? []), value]);
      process.stdout.write(`${key}: ${Math.round(value)}\n`);
    };
    const losses: Record<string, { sent: number; lost: number; droppedIncoming: number }> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [...BROWSERS] : [...BROWSERS].reverse();
      for (const name of order) {
        for (const carriage of CARRIAGES) {
          const page = pages.get(`${name} ${carriage}`)!;
          // Firefox throttles a background tab's rendering, which a click waits for (browser-page.ts).
          await page.bringToFront();
          for (const mode of ["raw", "tunnel"] as const) {
            const result = await flood(page, mode);
            add(name, `${mode} ${carriage}`, result.datagramsPerSecond);
            const key = `${name} ${mode} ${carriage}`;
            const sum = losses[key] ?? { sent: 0, lost: 0, droppedIncoming: 0 };
            sum.sent += result.sent;
            sum.lost += result.lost;
            sum.droppedIncoming += result.transportLosses?.droppedIncoming ?? 0;
            losses[key] = sum;
          }
        }
        const browsing = pages.get(`${name} stream`)!;
        await browsing.bringToFront();
        add(name, "browse download", await download(browsing));
      }
    }
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)]!;
    };
    const measures: Measure[] = [
      "raw datagrams",
      "tunnel datagrams",
      "raw stream",
      "tunnel stream",
      "browse download",
    ];
    const table = Object.fromEntries(
      measures.map((measure) => {
        const of = (name: BrowserName) => median(samples.get(`${name} ${measure}`) ?? [0]);
        return [
          measure,
          {
            unit: measure === "browse download" ? "Mbit/s" : "datagrams/s",
            ...Object.fromEntries(BROWSERS.map((name) => [name, Math.round(of(name))])),
            firefoxVsChromium: Number((of("firefox") / of("chromium")).toFixed(2)),
          },
        ];
      }),
    );
    const summary = {
      seconds: SECONDS,
      rounds: ROUNDS,
      payload: PAYLOAD,
      downloadBytes: BYTES,
      medians: table,
      losses,
      samples: Object.fromEntries(samples),
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, "browsers-bench.json"), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    for (const values of samples.values()) expect(Math.min(...values)).toBeGreaterThan(0);
  },
  TIMEOUT_MS,
);
