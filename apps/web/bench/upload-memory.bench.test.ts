/**
 * Memory of a 50 MB upload through Browse (a shown page's fetch → its Service Worker → the
 * Wiregate page → the tunnel worker → netstack TCP → the demo peer's /echo, which sends it back):
 * the peak growth of the resident memory of Chromium's renderer processes (where the shown page,
 * its Service Worker, the Wiregate page and its tunnel worker run) while it runs, next to the same
 * for a 50 MB download (/bytes, streamed, read as it comes) in the same run. The request body
 * travels as a Blob, its bytes in the browser's blob store, streamed to TCP as it takes them:
 * no renderer should hold the 50 MB. BENCH_UPLOAD_BYTES changes the size. Writes
 * test-results/upload-memory-bench.json. The stages are logged to see where a run stops. (Its
 * upload used to stall in most runs: netstack's TCP sent past the demo peer's shut window,
 * docs/netstack.md, "The window the peer offered".)
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DemoPeer } from "@wiregate/relay";
import type { Page } from "playwright-core";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import {
  browsePageUrl,
  chromiumBrowser,
  connectTunnel,
  demoUpstream,
  newContext,
  open,
  RESULTS,
  requireBuild,
  startRelay,
} from "../test/stack.js";
import { browseTab } from "./browse-download.js";

const BYTES = Number(process.env.BENCH_UPLOAD_BYTES ?? 50_000_000);
const MB = 1_000_000;
const closers = closeAfterAll();

/** Resident memory (bytes) of a process, from /proc. */
function rss(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0; // gone
  }
}

it("a 50 MB upload through Browse holds no copy of it in the renderers", {
  timeout: 600_000,
}, async () => {
  requireBuild();
  const demo = await DemoPeer.start();
  closers.push(() => demo.close());
  const chromium = await chromiumBrowser();
  closers.push(() => chromium.close());
  const relay = await startRelay([demoUpstream(demo)], 0, true, true);
  closers.push(() => relay.stop());
  const context = await newContext(chromium, undefined, true);
  const page = (await context.newPage()) as Page;
  await open(page, browsePageUrl(relay.address, { peer: demo.publicKey }));
  await page.getByRole("button", { name: "Generate key pair" }).click();
  await connectTunnel(page);
  const tab = await browseTab(context, page);
  console.info("upload-memory: connected, Browse tab open");
  const browser = await chromium.newBrowserCDPSession();
  const renderers = async () => {
    const { processInfo } = (await browser.send("SystemInfo.getProcessInfo")) as {
      processInfo: { type: string; id: number }[];
    };
    return processInfo.filter((p) => p.type === "renderer").map((p) => p.id);
  };
  /** Peak growth of the renderers' summed RSS while `run` runs, sampled every 50 ms. */
  const peakGrowth = async <R>(run: () => Promise<R>) => {
    const pids = await renderers();
    const total = () => pids.reduce((sum, pid) => sum + rss(pid), 0);
    const before = total();
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, total());
    }, 50);
    try {
      const result = await run();
      peak = Math.max(peak, total());
      return { result, growth: peak - before, before };
    } finally {
      clearInterval(timer);
    }
  };

  // The baseline: a download of as many bytes, read as they come.
  const download = await peakGrowth(() =>
    tab.evaluate(async (n) => {
      const reader = (await fetch(`/bytes?n=${n}`)).body!.getReader();
      let length = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return length;
        length += value.length;
      }
    }, BYTES),
  );
  expect(download.result).toBe(BYTES);
  console.info("upload-memory: downloaded");

  // The upload's body: a Blob made before the measure (its bytes go to the browser's blob store;
  // the pieces it was made of are let go), sent to /echo, whose answer is read as it comes.
  await tab.evaluate((n) => {
    const pieces: Uint8Array<ArrayBuffer>[] = [];
    for (let left = n; left > 0; left -= 1_000_000) {
      const part = new Uint8Array(Math.min(left, 1_000_000));
      crypto.getRandomValues(part.subarray(0, Math.min(part.length, 65536)));
      pieces.push(part);
    }
    (window as unknown as { upload: Blob }).upload = new Blob(pieces);
  }, BYTES);
  console.info("upload-memory: body made");
  const tabSession = await context.newCDPSession(tab);
  await tabSession.send("HeapProfiler.collectGarbage");
  console.info("upload-memory: uploading");
  const upload = await peakGrowth(() =>
    tab.evaluate(async () => {
      const body = (window as unknown as { upload: Blob }).upload;
      const started = performance.now();
      const response = await fetch("/echo", { method: "PUT", body });
      const reader = response.body!.getReader();
      let length = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          const seconds = (performance.now() - started) / 1000;
          return { status: response.status, sent: body.size, echoed: length, seconds };
        }
        length += value.length;
      }
    }),
  );
  expect(upload.result).toMatchObject({ status: 200, sent: BYTES, echoed: BYTES });

  const report = {
    bytes: BYTES,
    renderersBeforeMB: upload.before / MB,
    downloadPeakGrowthMB: download.growth / MB,
    uploadPeakGrowthMB: upload.growth / MB,
    uploadGrowthOverBody: upload.growth / BYTES,
    uploadGrowthOverDownloadGrowth: upload.growth / Math.max(download.growth, 1),
    /** Up and echoed back: each byte crossed the tunnel twice. */
    uploadAndEchoSeconds: upload.result.seconds,
  };
  console.info(
    `upload-memory: ${BYTES / MB} MB up and echoed back: renderers' RSS peak +${report.uploadPeakGrowthMB.toFixed(1)} MB ` +
      `(${report.uploadGrowthOverBody.toFixed(2)} × the body); the download of as many bytes: ` +
      `+${report.downloadPeakGrowthMB.toFixed(1)} MB (upload ÷ download ${report.uploadGrowthOverDownloadGrowth.toFixed(2)}); ` +
      `up and back in ${report.uploadAndEchoSeconds.toFixed(1)} s`,
  );
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "upload-memory-bench.json"), `${JSON.stringify(report, null, 2)}\n`);
});
