/**
 * Loss between the browser and the relay, per carriage. The relay (its CLI, with the embedded demo
 * peer on a thread of its own) runs in a network namespace with nftables random loss on its veth,
 * both ways (test/helpers/random-loss.ts); Chromium runs on the host and gets the page from another
 * relay on loopback (a secure context for the Service Worker) whose `relay=` points at the one in
 * the namespace. For each carriage of the tests (HTTP/3 datagrams, HTTP/3 stream, the WebSocket
 * fallback) and each loss rate (BENCH_LOSS, default 0,1,3 %): a Browse download of
 * BENCH_LOSS_BYTES (default 10 MB) from the demo peer (BENCH_CASES picks carriages by name), and a ping through the tunnel every 50 ms
 * during it (p50/p95/max, lost). The loss rates follow each other on each carriage's connected
 * page, in turned-around order every other round, BENCH_ROUNDS rounds (default 1). Writes
 * test-results/loss-bench.json.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import { createNamespace, type Namespace } from "../../../test/helpers/namespace.js";
import { addRandomLoss } from "../../../test/helpers/random-loss.js";
import { lineMatching, lines, root as relayRoot } from "../../relay/test/relay-process.js";
import {
  browsePageUrl,
  CARRIAGES,
  type CarriageCase,
  carriageInUse,
  chromiumBrowser,
  connectTunnel,
  newContext,
  open,
  RESULTS,
  requireBuild,
  startRelay,
  TOKEN,
  watchErrors,
} from "../test/stack.js";
import { browseTab, download, pingsDuring } from "./browse-download.js";
import { percentile } from "./percentile.js";

const BYTES = Number(process.env.BENCH_LOSS_BYTES ?? 10_000_000);
const LOSSES = (process.env.BENCH_LOSS ?? "0,1,3").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const PING_MS = 50;
/** BENCH_CASES=name,name: only those carriages (e.g. "WebSocket"). */
const CASES = process.env.BENCH_CASES
  ? CARRIAGES.filter((c) => process.env.BENCH_CASES!.split(",").includes(c.name))
  : CARRIAGES;

const closers = closeAfterAll();

/** The relay's CLI in `ns`, listening on the namespace's address, with the demo peer. */
async function relayIn(ns: Namespace, http3: boolean) {
  const certDir = mkdtempSync(join(tmpdir(), "wiregate-loss-bench-"));
  const child = ns.spawn(
    process.execPath,
    [
      join(relayRoot, "dist/cli.js"),
      `--host=${ns.address.v4}`,
      "--port=0",
      "--ops-port=0",
      `--cert-dir=${certDir}`,
      "--demo",
      "--demo-thread",
      // The page comes from the loopback relay's origin.
      "--allow-origin=*",
      ...(http3 ? [] : ["--no-http3"]),
    ],
    {
      env: { ...process.env, WIREGATE_RELAY_TOKENS: TOKEN },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  closers.push(() => child.kill("SIGKILL"));
  const output = lines(child);
  const listening = JSON.parse(
    await lineMatching(output, (line) => line.includes('"relay listening"')),
  );
  // The relay's log (refusals, warnings) with DBG set.
  if (process.env.DBG)
    void (async () => {
      for (;;) process.stdout.write(`[relay] ${(await output.next()).value}\n`);
    })();
  return {
    url: listening.url as string,
    certificateSha256: listening.certificateSha256 as string,
    demoPublicKey: listening.demoPeerPublicKey as string,
    stop: () => child.kill("SIGKILL"),
  };
}

it("Browse download and ping latency per carriage with random loss between Chromium and the relay", {
  timeout: 1_800_000,
}, async () => {
  requireBuild();
  const ns = await createNamespace();
  closers.push(() => ns.destroy());
  // Single segments on the veth from the start: a TCP connection (the WebSocket fallback's) takes
  // the device's GSO limit when it is set up, so the loss rule's own setting would come too late
  // for it and drop GSO packets of many segments at once.
  await ns.exec("ip", ["link", "set", ns.iface, "gso_max_segs", "1"]);
  // Serves the page (and nothing else) on loopback plain HTTP.
  const pages = await startRelay([], 0, false, true);
  closers.push(() => pages.stop());
  // The WebSocket fallback runs in the tunnel worker, where the context's ignoreHTTPSErrors does
  // not reach: the namespace relay's self-signed certificate is let through by a flag, in a
  // Chromium of its own (with that flag, WebTransport's certificate hashes are refused).
  const launch = (ignoreCertificates: boolean) =>
    chromiumBrowser(
      undefined,
      [ns.address.v4],
      ignoreCertificates ? ["--ignore-certificate-errors"] : [],
    );
  const chromiums = { http3: await launch(false), websocket: await launch(true) };
  closers.push(
    () => chromiums.http3.close(),
    () => chromiums.websocket.close(),
  );

  const rows: Record<string, unknown>[] = [];
  const measure = async (transport: CarriageCase) => {
    const relay = await relayIn(ns, transport.http3);
    const chromium = transport.http3 ? chromiums.http3 : chromiums.websocket;
    const context = await newContext(chromium, undefined, true);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await open(
      page,
      browsePageUrl(pages.address, {
        relay: relay.url,
        certificateSha256: relay.certificateSha256,
        peer: relay.demoPublicKey,
        carriage: transport.carriage,
        // No loopback WebSocket: the fallback dials the namespace's relay.
        websocket: "",
      }),
    );
    await page.getByRole("button", { name: "Generate key pair" }).click();
    await connectTunnel(page, `Connected · ${transport.badge} · MTU 1420`, 30_000).catch(
      async (error) => {
        throw new Error(
          `${(error as Error).message}; the page said: ${await page
            .getByTestId("session")
            .textContent()
            .catch(() => "")} ${errors.join("; ")}`,
        );
      },
    );
    await expect
      .poll(() => page.getByTestId("carriage").textContent())
      .toMatch(new RegExp(`^Carriage: ${carriageInUse(transport)} — `));
    const tab = await browseTab(context, page);
    for (let round = 0; round < ROUNDS; round++) {
      // The order of the rates turns around every other round.
      for (const percent of round % 2 ? [...LOSSES].reverse() : LOSSES) {
        const loss = percent > 0 ? await addRandomLoss(ns, ns.iface, percent) : undefined;
        try {
          const { result, rtts, lost } = await pingsDuring(page, PING_MS, () =>
            download(tab, BYTES),
          );
          const counts = await loss?.counts();
          expect(result.length).toBe(BYTES);
          const row = {
            carriage: transport.name,
            lossPercentEachWay: percent,
            round,
            downloadMbitPerSecond: Number(((result.length * 8) / 1e6 / result.seconds).toFixed(1)),
            downloadSeconds: Number(result.seconds.toFixed(2)),
            pings: rtts.length + lost,
            pingsLost: lost,
            pingRttMs: {
              p50: Number(percentile(rtts, 50).toFixed(1)),
              p95: Number(percentile(rtts, 95).toFixed(1)),
              max: Number((rtts.at(-1) ?? Number.NaN).toFixed(1)),
            },
            ...(counts
              ? {
                  // What the rule saw and dropped each way, and packets above the MTU (0: the
                  // loss hit single segments).
                  toRelay: counts.input,
                  fromRelay: counts.output,
                }
              : {}),
          };
          process.stdout.write(`${JSON.stringify(row)}\n`);
          rows.push(row);
        } finally {
          await loss?.remove();
        }
      }
    }
    await context.close();
    relay.stop();
  };
  for (const transport of CASES) await measure(transport);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "loss-bench.json"), `${JSON.stringify(rows, null, 2)}\n`);
});
