/**
 * The relay's per-address limits count an IPv6 /64 as one address: a relay process in a namespace,
 * clients on three addresses of it — two in one /64, one in another.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNamespace, type Namespace } from "./helpers/namespace.js";

const relayDir = resolve(fileURLToPath(new URL(".", import.meta.url)), "../apps/relay");
const fixtures = join(relayDir, "test/fixtures");
const TOKEN = "ipv6-group-token-0123456789";
const RELAY = "fd00:6407:1:1::1";
const CROWD = "fd00:6407:1:1::2";
const NEIGHBOUR = "fd00:6407:1:1::3"; // same /64 as the crowd
const OTHER = "fd00:6407:1:2::1"; // another /64

let ns: Namespace;
let relay: ChildProcess;
let listening: { url: string; ops: string; certificateSha256: string };

function firstLine(child: ChildProcess, match: string): Promise<string | undefined> {
  return new Promise((done) => {
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split("\n").find((l) => l.includes(match));
      if (line) done(line);
    });
    child.once("exit", () => done(undefined));
  });
}

beforeAll(async () => {
  ns = await createNamespace();
  for (const address of [RELAY, CROWD, NEIGHBOUR, OTHER])
    await ns.exec("ip", ["addr", "add", `${address}/128`, "dev", "lo", "nodad"]);
  relay = ns.spawn(
    process.execPath,
    [
      join(relayDir, "dist/cli.js"),
      `--host=${RELAY}`,
      "--port=0",
      `--ops-host=${ns.address.v4}`,
      "--ops-public",
      "--ops-port=0",
      `--cert-dir=${mkdtempSync(join(tmpdir(), "wiregate-ipv6-group-"))}`,
      "--no-http3",
      "--no-demo",
      "--upstream=echo=127.0.0.1:9",
      "--max-pending-per-address=8",
      "--hello-timeout=60000",
    ],
    { env: { ...process.env, WIREGATE_RELAY_TOKENS: TOKEN }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await firstLine(relay, '"relay listening"');
  if (!line) throw new Error("the relay did not start");
  listening = JSON.parse(line);
});
afterAll(async () => {
  await ns?.destroy();
});

function client(script: string, args: string[], localAddress: string): ChildProcess {
  return ns.spawn(process.execPath, [join(fixtures, script), ...args], {
    env: { ...process.env, LOCAL_ADDRESS: localAddress },
    stdio: ["ignore", "pipe", "ignore"],
  });
}

describe("per-address limits on IPv6", () => {
  it("count a /64 as one address", async () => {
    const crowd = client(
      "attacker.mjs",
      [listening.url, listening.certificateSha256, "silent", "8", "http2"],
      CROWD,
    );
    expect(JSON.parse((await firstLine(crowd, '"ready"'))!)).toMatchObject({ ready: 8 });
    const honest = [
      listening.url,
      listening.certificateSha256,
      TOKEN,
      "echo",
      "idle",
      "0",
      "http2",
    ];
    // Another address of the crowd's /64 shares its pending budget: refused.
    const neighbour = client("client.mjs", honest, NEIGHBOUR);
    expect(await firstLine(neighbour, '"welcome"')).toBeUndefined();
    // Another /64 has its own.
    const other = client("client.mjs", honest, OTHER);
    expect(await firstLine(other, '"welcome"')).toContain('"welcome"');
    const metrics = await (await fetch(`${listening.ops}/metrics`)).text();
    expect(metrics).toMatch(/wiregate_relay_refusals_total\{code="limit"\} [1-9]/);
  });
});
