/** Secrets the relay keeps on disk are readable by their owner only, and never reach the log. */

import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ensureDevCertificate, generateDevCertificate, hexHash } from "../src/dev-cert.js";
import { keyModeRefusal } from "../src/key-file-mode.js";
import { TOKEN } from "./helpers.js";
import { lineMatching, lines, root } from "./relay-process.js";

const DAY_MS = 24 * 60 * 60 * 1000;
const modeOf = (file: string) => statSync(file).mode & 0o777;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

/** A certificate directory as an older relay left it: key.pem readable by everyone. */
function looseCertDir(now: Date): { dir: string; hashHex: string } {
  const dir = mkdtempSync(join(tmpdir(), "wiregate-relay-secrets-"));
  const material = generateDevCertificate(["localhost"], now);
  writeFileSync(join(dir, "key.pem"), material.keyPem, { mode: 0o644 });
  writeFileSync(join(dir, "cert.pem"), material.certPem, { mode: 0o644 });
  return { dir, hashHex: hexHash(material.sha256) };
}

describe("secrets on disk", () => {
  it("a relay process keeps an existing key.pem but makes it 0600, and logs no private key", async () => {
    const { dir, hashHex } = looseCertDir(new Date());
    const child = spawn(
      process.execPath,
      [join(root, "dist/cli.js"), "--port=0", "--ops-port=off", `--cert-dir=${dir}`, "--demo"],
      {
        env: { ...process.env, WIREGATE_RELAY_TOKENS: TOKEN },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    children.push(child);
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const listening = JSON.parse(
      await lineMatching(lines(child), (l) => l.includes('"relay listening"')),
    );
    expect(listening.certificateSha256).toBe(hashHex); // the same certificate, not a new one
    expect(modeOf(join(dir, "key.pem"))).toBe(0o600);

    const ready = JSON.parse(output.split("\n").find((l) => l.includes('"demo peer ready"'))!);
    expect(ready.clientConfig).toBeUndefined();
    const configFile: string = ready.clientConfigFile;
    expect(modeOf(configFile)).toBe(0o600);
    const privateKey = /^PrivateKey = (\S+)$/m.exec(readFileSync(configFile, "utf8"))?.[1];
    expect(privateKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(output).not.toContain(privateKey);
    expect(output).not.toContain("PrivateKey");
  }, 60_000);

  it("a renewed key.pem replaces a looser one with a 0600 file", async () => {
    const { dir, hashHex } = looseCertDir(new Date(Date.now() - 13 * DAY_MS));
    const renewed = await ensureDevCertificate(dir, ["localhost"]);
    expect(renewed.generated).toBe(true);
    expect(hexHash(renewed.sha256)).not.toBe(hashHex);
    expect(modeOf(join(dir, "key.pem"))).toBe(0o600);
  });

  it("a relay process refuses a --key file others can read, and starts with a 0600 one", async () => {
    const { dir, hashHex } = looseCertDir(new Date());
    const keyFile = join(dir, "key.pem");
    const start = () => {
      const child = spawn(
        process.execPath,
        [
          join(root, "dist/cli.js"),
          "--port=0",
          "--ops-port=off",
          `--cert=${join(dir, "cert.pem")}`,
          `--key=${keyFile}`,
        ],
        {
          env: { ...process.env, WIREGATE_RELAY_TOKENS: TOKEN },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      children.push(child);
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      return { child, stderr: () => stderr };
    };
    const loose = start();
    const code = await new Promise((resolve) => loose.child.once("exit", resolve));
    expect(code).toBe(1);
    expect(loose.stderr()).toContain(`private key file ${keyFile} is mode 0644`);
    expect(modeOf(keyFile)).toBe(0o644); // a file the relay did not write is not changed
    chmodSync(keyFile, 0o600);
    const tight = start();
    const listening = JSON.parse(
      await lineMatching(lines(tight.child), (l) => l.includes('"relay listening"')),
    );
    expect(listening.certificateSha256).toBe(hashHex);
  }, 60_000);

  it("allows an owner-only key, or a group-readable one owned by root, and nothing looser", () => {
    expect(keyModeRefusal(0o100600, 1000)).toBeUndefined();
    expect(keyModeRefusal(0o100400, 1000)).toBeUndefined();
    expect(keyModeRefusal(0o100640, 0)).toBeUndefined();
    expect(keyModeRefusal(0o100640, 1000)).toMatch(/0640/);
    expect(keyModeRefusal(0o100660, 0)).toMatch(/0660/);
    expect(keyModeRefusal(0o100604, 0)).toMatch(/0604/);
    expect(keyModeRefusal(0o100644, 0)).toMatch(/chmod 600/);
  });
});
