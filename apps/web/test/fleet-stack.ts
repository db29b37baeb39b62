/**
 * A fleet of three relay processes (the built CLI) in front of one upstream, as docs/deploy.md's
 * "Many relays" runs them: the first serves the page and a fleet file naming all three (each with
 * its own certificate hash), the other two let the first one's page in (`--allow-origin`). And a
 * page connected through it with a given key, for the failover test and bench.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyToBase64 } from "@wiregate/core";
import { TOKEN } from "../../relay/test/helpers.js";
import { lineMatching, type RelayProcess, spawnRelay } from "../../relay/test/relay-process.js";
import { DIST, open, openTab, pageUrl, requireBuild, type TestPage } from "./stack.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-fleet-"));
let fleets = 0;

export interface Fleet {
  relays: RelayProcess[];
  /** Relay processes by the name the fleet file gives them. */
  byName(name: string): RelayProcess;
  stop(): void;
}

/** Three relays to `upstream` (HOST:PORT), named relay-1 … relay-3; HTTP/3 off: WebSocket only. */
export async function startFleet(upstream: string, http3: boolean): Promise<Fleet> {
  requireBuild();
  const flags = [`--upstream=wg=${upstream}`, `--static=${DIST}`, ...(http3 ? [] : ["--no-http3"])];
  const file = join(dir, `fleet-${++fleets}.json`);
  writeFileSync(file, "[]");
  const first = await spawnRelay([...flags, `--fleet-file=${file}`]);
  const relays = [first];
  try {
    const origin = new URL(first.address.url).origin;
    relays.push(
      ...(await Promise.all([2, 3].map(() => spawnRelay([...flags, `--allow-origin=${origin}`])))),
    );
    const names = relays.map((_, i) => `relay-${i + 1}`);
    writeFileSync(
      file,
      JSON.stringify(
        relays.map((r, i) => ({
          name: names[i],
          url: r.address.url,
          certificateSha256: r.hashHex,
        })),
      ),
    );
    // The operator's reload: the page served by the first relay now lists all three.
    first.child.kill("SIGHUP");
    await lineMatching(first.lines, (l) => l.includes('"fleet file reloaded"'));
    return {
      relays,
      byName: (name) => relays[names.indexOf(name)]!,
      stop: () => {
        for (const relay of relays) relay.stop();
      },
    };
  } catch (error) {
    for (const relay of relays) relay.stop();
    throw error;
  }
}

/** Opens the first relay's page, connects with `config` (wg-quick) and waits until connected. */
export async function connectThroughFleet(
  page: TestPage,
  fleet: Fleet,
  config: string,
  carriage: string,
): Promise<void> {
  await open(page, pageUrl(fleet.relays[0]!.address, { upstream: "wg", carriage, token: TOKEN }));
  await page.getByTestId("config").fill(config);
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await page
    .locator('[data-testid="badge"][data-phase="connected"]')
    .waitFor({ state: "attached", timeout: 30_000 });
  await openTab(page, "Status");
}

/** The relay the page is on, by name (the Status screen's). */
export async function relayInUse(page: TestPage): Promise<string | null> {
  const relay = page.getByTestId("relay");
  return (await relay.count()) === 0 ? null : relay.getAttribute("data-name");
}

/** A wg-quick config for the page: its key, tunnel address 10.77.0.2 and the upstream peer. */
export function pageConfig(privateKey: Uint8Array, peerPublicKey: string): string {
  return [
    "[Interface]",
    `PrivateKey = ${keyToBase64(privateKey)}`,
    "Address = 10.77.0.2/32",
    "",
    "[Peer]",
    `PublicKey = ${peerPublicKey}`,
    "AllowedIPs = 10.77.0.0/24",
    "",
  ].join("\n");
}
