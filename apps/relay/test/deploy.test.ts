/**
 * docs/deploy.md stays true: every shell block in it is either run here or says why it is not;
 * the systemd unit passes systemd's verifier and hardening score, and its ExecStart= command line
 * parses with the relay's own option parser against the shipped relay.json and a token file.
 */

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/cli-options.js";
import { root, spawnRelay } from "./relay-process.js";

const repo = join(root, "../..");
const deployDoc = readFileSync(join(repo, "docs/deploy.md"), "utf8");
const unitFile = join(root, "deploy/wiregate-relay.service");
const shippedConfig = join(root, "deploy/relay.json");

interface Block {
  code: string;
  /** The prose between the previous block and this one. */
  before: string;
}

function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let last = 0;
  for (const match of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    blocks.push({ code: match[1]!, before: markdown.slice(last, match.index) });
    last = match.index! + match[0].length;
  }
  return blocks;
}

const tested = shellBlocks(deployDoc).filter((b) => b.before.includes("*Tested*"));
const block = (needle: string): string => {
  const found = tested.filter((b) => b.code.includes(needle));
  if (found.length !== 1) throw new Error(`deploy.md: no single tested block with ${needle}`);
  return found[0]!.code;
};

/** Runs a block of deploy.md with bash from the repository root, `-e`: any failure fails. */
function run(code: string, replacements: [string, string][]): string {
  let script = code;
  for (const [from, to] of replacements) script = script.replaceAll(from, to);
  return execFileSync("bash", ["-euo", "pipefail", "-c", script], {
    cwd: repo,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** ExecStart= split as systemd does for a line without quotes. */
function execStart(unit: string): string[] {
  const line = /^ExecStart=(.+)$/m.exec(unit)?.[1];
  if (!line) throw new Error("the unit has no ExecStart=");
  if (/["'\\]/.test(line)) throw new Error("ExecStart= with quotes: split it properly here");
  return line.trim().split(/\s+/);
}

describe("docs/deploy.md", () => {
  it("runs every shell block or says why not", () => {
    const blocks = shellBlocks(deployDoc);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const { code, before } of blocks) {
      const said = before.includes("*Tested*") || /\*not run by the tests\*/i.test(before);
      expect(said, `deploy.md block without a word on testing:\n${code}`).toBe(true);
    }
    expect(tested.length).toBe(3);
  });

  it("gives an Identity example that the relay's parser takes", async () => {
    const identity = /## Identity[\s\S]*?```json\n([\s\S]*?)```/.exec(deployDoc)?.[1];
    expect(identity).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), "wiregate-deploy-identity-"));
    const file = join(dir, "relay.json");
    writeFileSync(
      file,
      JSON.stringify({
        ...JSON.parse(readFileSync(shippedConfig, "utf8")),
        ...JSON.parse(identity!),
      }),
    );
    const loaded = await loadConfig([`--config=${file}`], {});
    if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
    expect(loaded.config.identity).toMatchObject({
      sharedTokens: false,
      denyFile: "/etc/wiregate/deny",
    });
  });

  it("installs the settings and a token file only root can read", async () => {
    const etc = mkdtempSync(join(tmpdir(), "wiregate-deploy-etc-"));
    run(block("/etc/wiregate/tokens"), [["/etc/wiregate", etc]]);
    expect(statSync(join(etc, "tokens")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(etc, "relay.json"), "utf8")).toBe(readFileSync(shippedConfig, "utf8"));
    // The unit's command line, with systemd's %d (the credentials directory) where the token
    // file is handed over, through the relay's real option parser.
    const argv = execStart(readFileSync(unitFile, "utf8"));
    expect(argv.slice(0, 2)).toEqual(["/usr/bin/node", "/opt/wiregate/apps/relay/dist/cli.js"]);
    const flags = argv
      .slice(2)
      .map((arg) => arg.replaceAll("/etc/wiregate", etc).replaceAll("%d", etc));
    const loaded = await loadConfig(flags, {});
    if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
    const { config } = loaded;
    expect(config).toMatchObject({ host: "0.0.0.0", port: 443, demo: false, opsPort: 9464 });
    expect(config.opsHost).toBe("127.0.0.1");
    expect(config.tokens).toEqual([readFileSync(join(etc, "tokens"), "utf8").trim()]);
    expect(config.localHttpPort).toBeNull();
    expect(config.upstreams.map((u) => u.name)).toEqual(["office"]);
    // Certificates from Let's Encrypt, kept in the unit's state directory.
    expect(config).toMatchObject({
      acmeDomains: ["relay.example.org"],
      acmeDir: "/var/lib/wiregate-relay/acme",
    });
    expect(readFileSync(unitFile, "utf8")).toMatch(/^StateDirectory=wiregate-relay$/m);
  });

  it("checks the unit with systemd-analyze: it verifies and its hardening rates OK", () => {
    const systemDir = mkdtempSync(join(tmpdir(), "wiregate-deploy-systemd-"));
    const sourceDir = mkdtempSync(join(tmpdir(), "wiregate-deploy-unit-"));
    // systemd-analyze verify checks that ExecStart='s program exists: use this machine's node.
    const unit = readFileSync(unitFile, "utf8").replace("/usr/bin/node", process.execPath);
    writeFileSync(join(sourceDir, "wiregate-relay.service"), unit);
    const output = run(block("systemd-analyze verify"), [
      ["apps/relay/deploy/wiregate-relay.service", join(sourceDir, "wiregate-relay.service")],
      ["/etc/systemd/system/", `${systemDir}/`],
    ]);
    for (const setting of [
      "User=/DynamicUser=",
      "NoNewPrivileges=",
      "ProtectSystem=",
      "ProtectHome=",
      "CapabilityBoundingSet=~CAP_SYS_ADMIN",
    ])
      expect(output).toMatch(
        new RegExp(`^✓ ${setting.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`, "m"),
      );
    // deploy.md gives the score systemd 252 computes (1.5); other versions weigh a little
    // differently, so the bound is the test: well inside "OK".
    const score = Number(/Overall exposure level for \S+: ([\d.]+) OK/.exec(output)?.[1]);
    expect(score).toBeLessThanOrEqual(2);
  });

  it("reads health and metrics with curl, and filters the log with jq", async () => {
    const relay = await spawnRelay(["--no-http3"]);
    try {
      const port = String(relay.address.opsPort);
      const output = run(block("curl"), [["9464", port]]);
      expect(output).toMatch(/^\{"status":"ok","sessions":0,"transports":\["http2"\]/);
      expect(output).toMatch(/^wiregate_relay_sessions\{transport="http2"\} 0$/m);
    } finally {
      relay.stop();
    }
    // The jq filter of the log section, on a relay's real output (a warning: open mode).
    const filter = /jq -c '([^']+)'/.exec(deployDoc)?.[1];
    expect(filter).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), "wiregate-deploy-log-"));
    const child = spawn(
      process.execPath,
      [join(root, "dist/cli.js"), "--port=0", "--ops-port=off", "--no-http3", "--no-demo"],
      { cwd: dir, stdio: ["ignore", "pipe", "inherit"] },
    );
    let log = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('"relay listening"')) child.kill("SIGTERM");
    });
    await new Promise((resolve) => child.once("exit", resolve));
    const warnings = execFileSync("jq", ["-c", filter!], { input: log, encoding: "utf8" })
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { level: string; msg: string });
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.every((w) => w.level === "warn" || w.level === "error")).toBe(true);
    expect(warnings.map((w) => w.msg)).toContain(
      "open mode: no tokens configured, any local client may connect",
    );
    expect(log).toContain('"level":"info"');
  });
});
