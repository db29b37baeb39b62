/**
 * Open mode, the ops listener and the plain-HTTP page listener stay on loopback: the configured host must be a loopback literal,
 * and the address actually bound is checked too (a name can resolve anywhere). Relay processes; a
 * mount namespace gives one of them an /etc/hosts where `localhost` is 0.0.0.0.
 */

import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TOKEN } from "./helpers.js";
import { root } from "./relay-process.js";

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the relay CLI until it exits, or until it says it listens (then stops it). */
function runRelay(flags: string[], options: { tokens?: boolean; hosts?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "wiregate-relay-loopback-"));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.WIREGATE_RELAY_TOKENS;
  if (options.tokens) env.WIREGATE_RELAY_TOKENS = TOKEN;
  const args = [join(root, "dist/cli.js"), "--port=0", `--cert-dir=${dir}`, "--no-demo", ...flags];
  let command = process.execPath;
  let argv = args;
  if (options.hosts !== undefined) {
    const hostsFile = join(dir, "hosts");
    writeFileSync(hostsFile, options.hosts);
    command = "unshare";
    argv = [
      "--mount",
      "sh",
      "-c",
      'mount --bind "$0" /etc/hosts && exec "$@"',
      hostsFile,
      process.execPath,
      ...args,
    ];
  }
  const child = spawn(command, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise<Outcome>((resolve, reject) => {
    const outcome: Outcome = { code: null, stdout: "", stderr: "" };
    child.on("error", reject); // a missing unshare fails the test
    child.stderr!.on("data", (chunk: Buffer) => (outcome.stderr += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      outcome.stdout += chunk.toString();
      if (outcome.stdout.includes('"relay listening"')) child.kill("SIGKILL");
    });
    child.on("exit", (code) => resolve({ ...outcome, code }));
  });
}

describe("open mode and the ops listener stay on loopback", () => {
  it("refuses open mode on a host that only looks like loopback (127.0.0.999)", async () => {
    const outcome = await runRelay(["--host=127.0.0.999", "--ops-port=off"]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain("tokens: required when listening on 127.0.0.999");
  }, 30_000);

  it("refuses open mode when localhost is bound to a non-loopback address", async () => {
    const outcome = await runRelay(["--host=localhost", "--ops-port=off", "--no-http3"], {
      hosts: "0.0.0.0 localhost\n",
    });
    expect(outcome.stdout).not.toContain('"relay listening"');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain("only allowed on loopback; localhost is bound to 0.0.0.0");
  }, 30_000);

  it("refuses a non-loopback ops listener unless --ops-public", async () => {
    const configured = await runRelay(["--ops-host=0.0.0.0", "--ops-port=0"], { tokens: true });
    expect(configured.code).toBe(2);
    expect(configured.stderr).toContain("opsHost: 0.0.0.0 is not a loopback address");

    const resolved = await runRelay(["--ops-host=localhost", "--ops-port=0", "--no-http3"], {
      tokens: true,
      hosts: "0.0.0.0 localhost\n",
    });
    expect(resolved.code).toBe(1);
    expect(resolved.stderr).toContain("ops listener (localhost) is bound to 0.0.0.0");

    const allowed = await runRelay(["--ops-host=0.0.0.0", "--ops-port=0", "--ops-public"], {
      tokens: true,
    });
    expect(allowed.stdout).toMatch(/"ops":"http:\/\/0\.0\.0\.0:\d+"/);
  }, 30_000);

  it("refuses the plain-HTTP page listener anywhere but loopback, with no override", async () => {
    const flags = ["--local-http-port=0", "--ops-port=off"];
    const configured = await runRelay([...flags, "--local-http-host=0.0.0.0"], { tokens: true });
    expect(configured.code).toBe(2);
    expect(configured.stderr).toContain("localHttpHost: 0.0.0.0 is not a loopback address");

    const resolved = await runRelay([...flags, "--local-http-host=localhost", "--no-http3"], {
      tokens: true,
      hosts: "0.0.0.0 localhost\n",
    });
    expect(resolved.stdout).not.toContain('"relay listening"');
    expect(resolved.code).toBe(1);
    expect(resolved.stderr).toContain("plain-HTTP listener (localhost) is bound to 0.0.0.0");

    const loopback = await runRelay([...flags, "--local-http-host=::1"], { tokens: true });
    expect(loopback.stdout).toMatch(/"localHttp":"http:\/\/\[::1\]:\d+\/"/);
  }, 30_000);
});
