import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CAPTURES, CLI, runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STACK = /\n\s+at .*\(|node:internal/;

function messageLines(stdout: string): number {
  return stdout.split("\n").filter((l) => l.startsWith("{")).length;
}

describe("truncated captures", () => {
  for (const [name, file, keylog] of [
    [
      "pcapng with full keys",
      `${CAPTURES}/normal-fulldecrypt/full-normal.pcapng`,
      `${CAPTURES}/normal-fulldecrypt/keylog-full.txt`,
    ],
    ["classic pcap", `${CAPTURES}/normal/normal.pcap`, undefined],
  ] as const) {
    it(`${name}: cut at every byte offset, everything before the damage is reported, exit 2, no stack trace`, async () => {
      const bytes = readFileSync(file);
      const full = await runCli([
        "decode",
        file,
        "--json",
        ...(keylog ? ["--keylog", keylog] : []),
      ]);
      const fullCount = messageLines(full.stdout);
      expect(fullCount).toBe(9);
      const path = join(dir, `cut-${name.replace(/\W/g, "")}`);
      let previous = 0;
      let exits0 = 0;
      for (let n = 0; n < bytes.length; n++) {
        writeFileSync(path, bytes.subarray(0, n));
        const r = await runCli(["decode", path, "--json", ...(keylog ? ["--keylog", keylog] : [])]);
        const count = messageLines(r.stdout);
        expect(r.stderr).not.toMatch(STACK);
        if (r.code === 0) exits0++;
        else {
          expect(r.code).toBe(2);
          expect(r.stderr).toMatch(/error: (capture|pcap|pcapng): /);
          expect(r.stderr).toMatch(/everything readable before the damage was reported/);
        }
        // What was readable is a prefix of the full output.
        expect(count).toBeGreaterThanOrEqual(previous);
        expect(r.stdout).toBe(
          full.stdout.split("\n").slice(0, count).join("\n") + (count ? "\n" : ""),
        );
        previous = count;
      }
      // Cuts exactly at a block boundary are valid shorter files; every other cut is damage.
      expect(exits0).toBeLessThan(20);
      expect(previous).toBeGreaterThanOrEqual(fullCount - 1);
    }, 120_000);
  }
});

describe("corrupt input", () => {
  it("random bytes: clear message, exit 2", async () => {
    const path = join(dir, "random.bin");
    const random = new Uint8Array(4096);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    writeFileSync(path, random);
    const r = await runCli(["decode", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown file magic/);
    expect(r.stderr).not.toMatch(STACK);
  });

  it("absurd block length in the middle: earlier messages still reported, exit 2", async () => {
    const bytes = new Uint8Array(readFileSync(`${CAPTURES}/normal/normal.pcapng`));
    const view = new DataView(bytes.buffer);
    // Walk the blocks; corrupt the length of the 5th Enhanced Packet Block.
    let at = 0;
    let epbs = 0;
    while (at < bytes.length) {
      const type = view.getUint32(at, true);
      const length = view.getUint32(at + 4, true);
      if (type === 6 && ++epbs === 5) {
        view.setUint32(at + 4, 0xfffffff0, true);
        break;
      }
      at += length;
    }
    const path = join(dir, "absurd.pcapng");
    writeFileSync(path, bytes);
    const r = await runCli(["decode", path, "--json"]);
    expect(r.code).toBe(2);
    expect(messageLines(r.stdout)).toBe(4);
    expect(r.stderr).toMatch(/error: pcapng: .*(too large|length|block)/i);
  });

  it("wrong magic in a pcap header", async () => {
    const bytes = new Uint8Array(readFileSync(`${CAPTURES}/normal/normal.pcap`));
    bytes[0] = 0x00;
    const path = join(dir, "magic.pcap");
    writeFileSync(path, bytes);
    const r = await runCli(["analyze", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown file magic 0x00/);
  });

  it("missing file: exit 2 with the reason", async () => {
    const r = await runCli(["decode", join(dir, "nope.pcap")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read .*nope\.pcap: no such file/);
  });
});

describe("bad key material", () => {
  it("garbage lines: reported with line numbers, valid lines still used, output still printed, exit 3", async () => {
    const good = readFileSync(`${CAPTURES}/normal/keylog.txt`, "utf8");
    const path = join(dir, "bad-keylog.txt");
    writeFileSync(path, `${good}LOCAL_STATIC_PRIVATE_KEY = not-base64\nHELLO\n`);
    const r = await runCli([
      "decode",
      `${CAPTURES}/normal/normal.pcapng`,
      "--keylog",
      path,
      "--json",
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bad-keylog\.txt:3: LOCAL_STATIC_PRIVATE_KEY: /);
    expect(r.stderr).toMatch(/bad-keylog\.txt:4: /);
    expect(messageLines(r.stdout)).toBe(9);
    expect(r.stdout).toContain('"wg.static"');
  });

  it("unreadable or empty key log: exit 3", async () => {
    expect(
      (
        await runCli([
          "decode",
          `${CAPTURES}/normal/normal.pcap`,
          "--keylog",
          join(dir, "missing.txt"),
        ])
      ).code,
    ).toBe(3);
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "");
    const r = await runCli(["decode", `${CAPTURES}/normal/normal.pcap`, "--keylog", empty]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no keys/);
  });
});

describe("the real CLI", () => {
  const node = process.execPath;
  it("reads a truncated capture from stdin (-r -), prints what it can, exit 2, no stack trace", () => {
    const bytes = readFileSync(`${CAPTURES}/collision-stall/sim-nopsk-retry-run02.pcap`);
    const r = spawnSync(node, [CLI, "decode", "-r", "-", "--json"], {
      input: bytes.subarray(0, 30_001),
      timeout: 20_000,
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("{")).length).toBeGreaterThan(100);
    expect(r.stderr).toMatch(/error: pcap: .*truncated/);
    expect(r.stderr).not.toMatch(STACK);
  });

  it("-c N stops after N messages", () => {
    const r = spawnSync(
      node,
      [CLI, "decode", `${CAPTURES}/collision-stall/sim-nopsk-retry-run02.pcapng`, "-c", "7"],
      { timeout: 20_000, encoding: "utf8" },
    );
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(7);
    expect(r.stderr).toMatch(/^7 WireGuard messages/m);
  });

  it("usage errors exit 1; --help documents commands, examples and exit codes", () => {
    const bad = spawnSync(node, [CLI, "decode"], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/missing capture FILE/);
    const unknown = spawnSync(node, [CLI, "frobnicate", "x"], { encoding: "utf8" });
    expect(unknown.status).toBe(1);
    const help = spawnSync(node, [CLI, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    for (const word of [
      "decode",
      "analyze",
      "replay",
      "export",
      "Examples:",
      "Exit codes:",
      "-r -",
    ]) {
      expect(help.stdout).toContain(word);
    }
  });
});
