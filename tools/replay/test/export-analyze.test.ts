import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CAPTURES, runCli, tshark } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-replay-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("export", () => {
  it("writes a pcapng that tshark decrypts with no further options", async () => {
    const out = join(dir, "full.pcapng");
    const result = await runCli([
      "export",
      `${CAPTURES}/collision-stall-fulldecrypt/full-sim-nopsk-crossed-run02.pcapng`,
      "--keylog",
      `${CAPTURES}/collision-stall-fulldecrypt/keylog-full.txt`,
      "-w",
      out,
    ]);
    expect(result.code).toBe(0);
    const rows = await tshark(out, ["wg.type", "wg.handshake_ok", "icmp.type"]);
    const responses = rows.filter((r) => r[0] === "2");
    expect(responses.length).toBe(3);
    expect(responses.every((r) => r[1] === "1")).toBe(true);
    expect(rows.filter((r) => r[2] === "8").length).toBeGreaterThan(10);
  });

  it("refuses bad key material with exit 3", async () => {
    const result = await runCli([
      "export",
      `${CAPTURES}/normal/normal.pcap`,
      "--keylog",
      `${CAPTURES}/normal/normal.pcap`,
      "-w",
      join(dir, "x.pcapng"),
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/error: .*normal\.pcap:1:/);
  });
});

describe("analyze (CLI)", () => {
  it("names the collision and the ~5 s stall in collision-stall", async () => {
    const result = await runCli([
      "analyze",
      `${CAPTURES}/collision-stall/sim-nopsk-retry-run02.pcap`,
      "--keylog",
      `${CAPTURES}/collision-stall/keylog.txt`,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/collision at 0\.000 s: both initiated 0\.27 ms apart/);
    expect(result.stdout).toMatch(/both responses ignored; stalled 5\.01 s until A retried/);
  });

  it("--json gives one object per peer pair with the measured stall", async () => {
    const result = await runCli([
      "analyze",
      `${CAPTURES}/collision-stall/sim-nopsk-retry-run02.pcapng`,
      "--json",
    ]);
    const pairs = result.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(pairs).toHaveLength(1);
    expect(pairs[0].collisions[0].stallSeconds).toBeGreaterThan(5);
    expect(pairs[0].collisions[0].stallSeconds).toBeLessThan(5.5);
  });
});
