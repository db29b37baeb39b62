/**
 * The fleet file (`--fleet-file`) from outside the relay process: the relays it names are served to
 * the page in wiregate.json, SIGHUP reloads them, a bad file is refused at start with the reason
 * and keeps the served list on reload.
 */

import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lineMatching, type RelayProcess, root, spawnRelay } from "./relay-process.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-fleet-"));
const file = join(dir, "fleet.json");
const HASH = "0f".repeat(32);
const fleet = [
  { name: "eu-1", url: "https://eu-1.example.net/wiregate", certificateSha256: HASH },
  { name: "eu-2", url: "https://eu-2.example.net/wiregate" },
];
let relay: RelayProcess;

async function served(): Promise<Record<string, unknown>> {
  const response = await fetch(new URL("/wiregate.json", relay.address.localHttpUrl));
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  writeFileSync(file, JSON.stringify({ relays: fleet }));
  relay = await spawnRelay([`--fleet-file=${file}`, "--local-http-port=0"]);
});
afterAll(() => relay?.stop());

describe("fleet file", () => {
  it("lists the fleet in wiregate.json beside the relay's own defaults", async () => {
    expect(await served()).toMatchObject({ relay: relay.address.url, relays: fleet });
  });

  it("is read again on SIGHUP; a bad one keeps the list served", async () => {
    const three = [...fleet, { name: "us-1", url: "https://us-1.example.net/wiregate" }];
    writeFileSync(file, JSON.stringify(three));
    relay.child.kill("SIGHUP");
    await lineMatching(relay.lines, (l) => l.includes('"fleet file reloaded"'));
    expect((await served()).relays).toEqual(three);

    writeFileSync(file, JSON.stringify([{ name: "x", url: "http://plain.example/" }]));
    relay.child.kill("SIGHUP");
    const line = await lineMatching(relay.lines, (l) => l.includes("fleet file reload failed"));
    expect(JSON.parse(line).error).toBe(
      `fleet file ${file}: relays[0].url: must be an https:// URL`,
    );
    expect((await served()).relays).toEqual(three);
  });

  it("refuses to start with a bad fleet file, saying why", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify(Array.from({ length: 17 }, (_, i) => ({ name: `r${i}` }))));
    const run = promisify(execFile);
    const error = await run(process.execPath, [
      join(root, "dist/cli.js"),
      `--fleet-file=${bad}`,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(error).toMatchObject({
      code: 2,
      stderr: `wiregate-relay: invalid configuration\n  fleet file ${bad}: relays: 17 entries, at most 16\n`,
    });
  });
});
