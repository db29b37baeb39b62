/**
 * Failover between relays, measured: three relay processes in front of one wireguard-go in a
 * namespace, the page pinging it every 20 ms through the fleet; the relay it uses is killed
 * (SIGKILL) BENCH_KILLS times (default 20) and started again at its port after the page moved.
 * Each kill's failover time runs from the kill to the first answered ping after the page's Status
 * screen names another relay (both taken in the page, by a MutationObserver); the part after the
 * page noticed the loss is the move's own time from the Status screen. The baseline, in the same
 * run: the page's first connect to the relay it chose (its measurement). In Chromium and Firefox
 * ESR, over HTTP/3 and WebSocket. Writes test-results/failover-bench.json.
 *
 *   npm run bench -w @wiregate/web -- failover
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import { startWireGuardPeer } from "../../../test/helpers/netns.js";
import { connectFleetPage, openFleetPage, relayInUse, startFleet } from "../test/fleet-stack.js";
import {
  BROWSERS,
  CARRIAGES,
  newContext,
  openTab,
  pageKeyPair,
  RESULTS,
  useBrowser,
  wgQuickConfig,
} from "../test/stack.js";
import { percentile } from "./percentile.js";

const KILLS = Number(process.env.BENCH_KILLS ?? 20);
const INTERVAL_MS = 20;
const closers = closeAfterAll();
const results: Record<string, unknown> = {};

/** Records in the page when each ping reply appears and when the relay in use changes. */
function recordInPage(): void {
  const log: { t: number; kind: "reply" | "relay"; name?: string }[] = [];
  (window as unknown as { failoverLog: typeof log }).failoverLog = log;
  let relay: string | undefined;
  new MutationObserver((mutations) => {
    const t = performance.now();
    for (const m of mutations)
      for (const node of m.addedNodes)
        if (node instanceof HTMLElement && node.matches("li.reply")) log.push({ t, kind: "reply" });
    const name = document.querySelector<HTMLElement>('[data-testid="relay"]')?.dataset.name;
    if (name && name !== relay) {
      relay = name;
      log.push({ t, kind: "relay", name });
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
}

/** In the page: when the first ping reply came after the relay in use changed from `from`. */
function firstReplyAfterMove({ since, from }: { since: number; from: string }): number | undefined {
  const log = (window as unknown as { failoverLog: { t: number; kind: string; name?: string }[] })
    .failoverLog;
  const moved = log.find((e) => e.t > since && e.kind === "relay" && e.name !== from);
  return moved && log.find((e) => e.t > moved.t && e.kind === "reply")?.t;
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: Math.round(percentile(sorted, 50)),
    max: Math.round(sorted.at(-1) ?? Number.NaN),
  };
};

describe.each(BROWSERS)("in %s", (name) => {
  const b = useBrowser(name);

  it.each(CARRIAGES.filter((c) => c.name !== "HTTP/3 stream"))(
    "failover time over $name",
    async (carriage) => {
      const keys = pageKeyPair();
      const peer = await startWireGuardPeer({
        addresses: ["10.77.0.1/24"],
        peers: [{ publicKey: keys.publicKey, allowedIPs: ["10.77.0.2/32"] }],
      });
      closers.push(() => peer.stop());
      const fleet = await startFleet(`${peer.underlayAddress}:${peer.listenPort}`, carriage.http3);
      closers.push(() => fleet.stop());
      const context = await newContext(b());
      closers.push(() => context.close());
      const page = await context.newPage();
      const config = wgQuickConfig({
        privateKey: keys.privateKey,
        addresses: ["10.77.0.2/32"],
        peerPublicKey: peer.publicKey,
        allowedIPs: ["10.77.0.0/24"],
      });
      await openFleetPage(page, fleet, carriage.carriage);
      await connectFleetPage(page, config);
      await page.evaluate(recordInPage);
      const chosen = await relayInUse(page);
      const measured = await page.getByTestId("relay-measurements").locator("li").allTextContents();
      const connectMs = Number(
        /connected in ([\d.]+) ms/.exec(measured.find((m) => m.startsWith(`${chosen}:`))!)![1],
      );

      const replies = page.locator('[data-testid="ping-log"] li.reply');
      /** A fresh ping every 20 ms (the Tools screen's at most 10,000), answered before a kill. */
      const pinging = async () => {
        await openTab(page, "Tools");
        const stop = page.getByRole("button", { name: "Stop", exact: true });
        if ((await stop.getAttribute("disabled")) === null) {
          await stop.click();
          await page
            .locator('[data-testid="ping-summary"][data-done="true"]')
            .waitFor({ state: "attached" });
        }
        await page.getByLabel("Destination").fill("10.77.0.1");
        await page.getByLabel("Count").fill("10000");
        await page.getByLabel("Interval (ms)").fill(String(INTERVAL_MS));
        await page.getByRole("button", { name: "Start ping" }).click();
        await expect.poll(() => replies.count(), { timeout: 15_000 }).toBeGreaterThan(3);
        await openTab(page, "Status");
      };

      const failover: number[] = [];
      const moveOnly: number[] = [];
      for (let kill = 0; kill < KILLS; kill++) {
        await pinging();
        const from = (await relayInUse(page))!;
        const killedAt = await page.evaluate(() => performance.now());
        fleet.byName(from).child.kill("SIGKILL");
        // The first reply after the Status screen names another relay.
        const answered = () => page.evaluate(firstReplyAfterMove, { since: killedAt, from });
        await expect.poll(answered, { timeout: 60_000, interval: 100 }).toBeDefined();
        failover.push((await answered())! - killedAt);
        const moves = await page.getByTestId("relay-move-list").locator("li").allTextContents();
        moveOnly.push(Number(/ in ([\d.]+) s: /.exec(moves.at(-1)!)![1]) * 1000);
        await fleet.restart(from);
      }
      const result = {
        kills: KILLS,
        failoverMs: stats(failover),
        afterNoticedMs: stats(moveOnly),
        baselineConnectMs: Math.round(connectMs),
        p50OverConnect: Number(
          (
            percentile(
              [...failover].sort((x, y) => x - y),
              50,
            ) / connectMs
          ).toFixed(1),
        ),
      };
      results[`${name} ${carriage.name}`] = result;
      process.stdout.write(`failover ${name} ${carriage.name}: ${JSON.stringify(result)}\n`);
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(join(RESULTS, "failover-bench.json"), `${JSON.stringify(results, null, 2)}\n`);
    },
    600_000,
  );
});
