/**
 * A fleet of three relay processes (the built CLI) in front of one upstream, as docs/deploy.md's
 * "Many relays" runs them: the first serves the page and a fleet file naming all three (each with
 * its own certificate hash), the other two let the first one's page in (`--allow-origin`). And a
 * page connected through it with a given key, for the failover test and bench.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited } from "../../../test/helpers/command.js";
import { TOKEN } from "../../relay/test/helpers.js";
import { lineMatching, type RelayProcess, spawnRelay } from "../../relay/test/relay-process.js";
import {
  connectTunnel,
  DIST,
  open,
  openTab,
  pageUrl,
  requireBuild,
  type TestPage,
} from "./stack.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-fleet-"));
let fleets = 0;

export interface Fleet {
  relays: RelayProcess[];
  /** Relay processes by the name the fleet file gives them. */
  byName(name: string): RelayProcess;
  /** Starts a killed relay again, at its port and with its certificate: back in the fleet. */
  restart(name: string): Promise<void>;
  stop(): void;
}

/** Three relays to `upstream` (HOST:PORT), named relay-1 … relay-3; HTTP/3 off: WebSocket only. */
export async function startFleet(upstream: string, http3: boolean): Promise<Fleet> {
  requireBuild();
  const flags = [`--upstream=wg=${upstream}`, `--static=${DIST}`, ...(http3 ? [] : ["--no-http3"])];
  const fleet = ++fleets;
  const file = join(dir, `fleet-${fleet}.json`);
  writeFileSync(file, "[]");
  // Each relay its own certificate, kept for a restart.
  const certDir = (n: number) => `--cert-dir=${join(dir, `certs-${fleet}-${n}`)}`;
  const relayFlags = [[...flags, certDir(1), `--fleet-file=${file}`]];
  const first = await spawnRelay(relayFlags[0]!);
  const relays = [first];
  try {
    const origin = new URL(first.address.url).origin;
    for (const n of [2, 3]) relayFlags.push([...flags, certDir(n), `--allow-origin=${origin}`]);
    relays.push(...(await Promise.all(relayFlags.slice(1).map((f) => spawnRelay(f)))));
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
      async restart(name) {
        const i = names.indexOf(name);
        await exited(relays[i]!.child);
        relays[i] = await spawnRelay([...relayFlags[i]!, `--port=${relays[i]!.address.port}`]);
      },
      stop: () => {
        for (const relay of relays) relay.stop();
      },
    };
  } catch (error) {
    for (const relay of relays) relay.stop();
    throw error;
  }
}

/** Opens the first relay's page (the fleet in its wiregate.json), with the relays' token. */
export async function openFleetPage(page: TestPage, fleet: Fleet, carriage: string): Promise<void> {
  await open(page, pageUrl(fleet.relays[0]!.address, { upstream: "wg", carriage, token: TOKEN }));
}

/** Connects the open page with `config` (wg-quick), waits until connected, shows Status. */
export async function connectFleetPage(page: TestPage, config: string): Promise<void> {
  await page.getByTestId("config").fill(config);
  // Firefox tries HTTP/3 for 5 s at each relay before WebSocket when the fleet has it off.
  await connectTunnel(page, /^Connected/, 30_000).catch(async (error: Error) => {
    // What the Connect screen said (a refused setting, the relay's refusal).
    const said = await page.locator("#panel-connect .message").textContent();
    throw new Error(`${error.message}; the Connect screen says: ${said}`);
  });
  await openTab(page, "Status");
}

/** The relay the page is on, by name (the Status screen's). */
export async function relayInUse(page: TestPage): Promise<string | null> {
  const relay = page.getByTestId("relay");
  return (await relay.count()) === 0 ? null : relay.getAttribute("data-name");
}
