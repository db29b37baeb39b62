/**
 * Real web apps through the tunnel, measured against the same apps loaded directly from their
 * namespace in the same run (test/helpers/web-apps.ts, behind wireguard-go, names from dnsmasq), in
 * Chromium:
 * - time to a usable app: from asking for it (the Browse screen's Go, or the direct page's
 *   navigation) to the first paint of its main view: Jupyter's notebook with its kernel idle (the
 *   status comes over the kernel's WebSocket), Syncthing's single-page app with its config loaded
 *   (the title names the device), Prometheus's query page. Rounds alternate which goes first
 *   (BENCH_ROUNDS, default 3); the medians and their ratio.
 * - memory: the used JavaScript heaps of the Wiregate page, the apps' tabs and the Browse
 *   origins' Service Workers (DevTools' Runtime.getHeapUsage after a collection), sampled after each pass while the
 *   apps are opened and used again and again for BENCH_BROWSE_SECONDS (default 180).
 * Writes test-results/web-apps-bench.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, CDPSession } from "playwright-core";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import { startDnsmasq } from "../../../test/helpers/dnsmasq.js";
import { startWireGuardPeer } from "../../../test/helpers/netns.js";
import { startWebApps, type WebApps } from "../../../test/helpers/web-apps.js";
import {
  browsePageUrl,
  chromiumBrowser,
  connectTunnel,
  importConfig,
  newContext,
  open,
  pageKeyPair,
  RESULTS,
  requireBuild,
  startRelay,
  type TestPage,
  wgQuickConfig,
  wgUpstream,
} from "../test/stack.js";
import {
  type AppView,
  jupyterReady,
  openInBrowseTab,
  pageView,
  prometheusReady,
  syncthingReady,
} from "../test/web-apps.js";
import { percentile } from "./percentile.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BROWSE_SECONDS = Number(process.env.BENCH_BROWSE_SECONDS ?? 180);
const SERVER = "10.82.0.1";
const closers = closeAfterAll();

interface App {
  name: string;
  port: number;
  path: string;
  ready(view: AppView): Promise<void>;
}

/** The next animation frame in `page`: what was drawn is painted. */
const painted = (page: TestPage) =>
  page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(undefined))));

/**
 * The used JavaScript heap of every page (the Wiregate page, the apps' tabs) and Service Worker
 * (DevTools' `Runtime.getHeapUsage`, through the browser's target sessions), in bytes.
 */
async function heaps(browser: Browser) {
  const session: CDPSession = await browser.newBrowserCDPSession();
  type Reply = { id: number; result?: { usedSize: number }; error?: { message: string } };
  const replies = new Map<string, (message: Reply) => void>();
  session.on("Target.receivedMessageFromTarget", (event) =>
    replies.get(event.sessionId)?.(JSON.parse(event.message)),
  );
  const { targetInfos } = await session.send("Target.getTargets");
  const out: { type: string; url: string; usedBytes: number; error?: string }[] = [];
  for (const target of targetInfos.filter(
    (t) => t.type === "page" || t.type === "service_worker",
  )) {
    const { sessionId } = await session.send("Target.attachToTarget", {
      targetId: target.targetId,
      flatten: false,
    });
    /** One DevTools command in the target; its reply. */
    const call = async (id: number, method: string) => {
      const reply = new Promise<Reply>((resolve) =>
        replies.set(sessionId, (m) => m.id === id && resolve(m)),
      );
      await session.send("Target.sendMessageToTarget", {
        sessionId,
        message: JSON.stringify({ id, method }),
      });
      return reply;
    };
    // What is still referenced, not what a collection would free.
    await call(1, "HeapProfiler.collectGarbage");
    const usage = await call(2, "Runtime.getHeapUsage");
    out.push({
      type: target.type,
      url: target.url,
      usedBytes: usage.result?.usedSize ?? Number.NaN,
      ...(usage.error ? { error: usage.error.message } : {}),
    });
    await session.send("Target.detachFromTarget", { sessionId }).catch(() => {});
  }
  await session.detach();
  return out;
}

it("real web apps: time to a usable app through the tunnel next to direct, and memory after browsing", {
  timeout: 1_800_000,
}, async () => {
  requireBuild();
  const client = pageKeyPair();
  const peer = await startWireGuardPeer({
    addresses: [`${SERVER}/24`],
    peers: [{ publicKey: client.publicKey, allowedIPs: ["10.82.0.2/32"] }],
    logLevel: "error",
  });
  closers.push(() => peer.stop());
  const apps: WebApps = await startWebApps(peer.ns);
  closers.push(() => apps.stop());
  const dns = await startDnsmasq(peer.ns, {
    names: {
      "jupyter.apps.wg.test": [SERVER],
      "syncthing.apps.wg.test": [SERVER],
      "prometheus.apps.wg.test": [SERVER],
    },
    listen: [SERVER],
  });
  closers.push(() => dns.stop());
  const list: App[] = [
    {
      name: "jupyter",
      port: apps.jupyterOpen.port,
      path: `/notebooks/${apps.jupyterOpen.notebook}`,
      ready: (view) => jupyterReady(view),
    },
    {
      name: "syncthing",
      port: apps.syncthing.port,
      path: "/",
      ready: (view) => syncthingReady(view),
    },
    {
      name: "prometheus",
      port: apps.prometheus.port,
      path: "/classic/graph",
      ready: (view) => prometheusReady(view),
    },
  ];

  const relay = await startRelay([wgUpstream(peer)], 0, true, true);
  closers.push(() => relay.stop());
  const chromium = await chromiumBrowser(undefined, [peer.underlayAddress]);
  closers.push(() => chromium.close());
  const page = await (await newContext(chromium, undefined, true)).newPage();
  await open(page, browsePageUrl(relay.address, { upstream: "wg" }));
  const config = wgQuickConfig({
    privateKey: client.privateKey,
    addresses: ["10.82.0.2/32"],
    peerPublicKey: peer.publicKey,
    allowedIPs: ["10.82.0.0/24"],
  }).replace("[Peer]", `DNS = ${SERVER}, apps.wg.test\n\n[Peer]`);
  await importConfig(page, config, client.publicKey);
  await connectTunnel(page);

  /** Through the tunnel: the Browse screen's Go to the app's main view painted in its tab. */
  const viaTunnel = async (app: App) => {
    const started = performance.now();
    const { tab, view } = await openInBrowseTab(
      page,
      `${app.name}.apps.wg.test`,
      app.port,
      app.path,
    );
    await app.ready(view);
    await painted(tab);
    const ms = performance.now() - started;
    await tab.close();
    return ms;
  };
  /** Directly from the namespace: a fresh tab's navigation to the main view painted. */
  const direct = async (app: App) => {
    const context = await newContext(chromium, undefined, true);
    const tab = await context.newPage();
    const started = performance.now();
    const view = pageView(tab, `http://${peer.underlayAddress}:${app.port}`);
    await view.open(app.path);
    await app.ready(view);
    await painted(tab);
    const ms = performance.now() - started;
    await context.close();
    return ms;
  };

  const times: Record<string, { direct: number[]; tunnel: number[] }> = Object.fromEntries(
    list.map((app) => [app.name, { direct: [], tunnel: [] }]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const app of list) {
      const t = times[app.name]!;
      if (round % 2 === 0) {
        t.direct.push(await direct(app));
        t.tunnel.push(await viaTunnel(app));
      } else {
        t.tunnel.push(await viaTunnel(app));
        t.direct.push(await direct(app));
      }
    }
  }
  const median = (ms: number[]) =>
    percentile(
      [...ms].sort((a, b) => a - b),
      50,
    );
  const summary = Object.fromEntries(
    Object.entries(times).map(([name, t]) => [
      name,
      {
        directMs: median(t.direct),
        tunnelMs: median(t.tunnel),
        ratio: median(t.tunnel) / median(t.direct),
        ...t,
      },
    ]),
  );
  console.info(`time to a usable app, median of ${ROUNDS} (tunnel / direct):`);
  for (const [name, s] of Object.entries(summary)) {
    console.info(
      `  ${name}: direct ${s.directMs.toFixed(0)} ms, tunnel ${s.tunnelMs.toFixed(0)} ms, ratio ${s.ratio.toFixed(2)}`,
    );
  }

  // Browsing the apps again and again; the heaps after each pass.
  const mb = (bytes: number) => Number((bytes / 1e6).toFixed(1));
  const samples: { seconds: number; pageMB: number; serviceWorkersMB: number[] }[] = [];
  const start = performance.now();
  while ((performance.now() - start) / 1000 < BROWSE_SECONDS) {
    for (const app of list) await viaTunnel(app);
    const targets = await heaps(chromium);
    const wiregate = targets.find((t) => t.type === "page" && t.url.includes("index.html"));
    samples.push({
      seconds: Math.round((performance.now() - start) / 1000),
      pageMB: mb(wiregate?.usedBytes ?? Number.NaN),
      serviceWorkersMB: targets
        .filter((t) => t.type === "service_worker")
        .map((t) => mb(t.usedBytes)),
    });
    const last = samples.at(-1)!;
    const failed = targets.find((t) => t.error);
    if (failed) console.info(`  (${failed.type} ${failed.url}: ${failed.error})`);
    console.info(
      `  after ${last.seconds} s: Wiregate page ${last.pageMB} MB, Service Workers ${last.serviceWorkersMB.join(", ")} MB`,
    );
  }
  expect(samples.length).toBeGreaterThan(1);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, "web-apps-bench.json"),
    JSON.stringify({ rounds: ROUNDS, summary, samples }, null, 2),
  );
});
