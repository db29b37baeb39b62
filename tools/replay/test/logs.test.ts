import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CAPTURES, CLI, runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-logs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const STALL = `${CAPTURES}/collision-stall`;
const CAPTURE = `${STALL}/sim-nopsk-retry-run02.pcapng`;
const STACK = /\n\s+at .*\(|node:internal/;

describe("--log", () => {
  it("analyze from logs alone: the collision, both rejected responses, the stall; sides named by interface", async () => {
    const r = await runCli(["analyze", "--log", `${STALL}/wgA.log`, "--log", `${STALL}/wgB.log`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Peer pair wga ⇄ wgb (from logs; timestamps to 1 µs)");
    expect(r.stdout).toMatch(
      /verdict: collision at 0\.000 s: both initiated 0\.77 ms apart \(wgb line 1, wga line 1; timestamps to 1 µs\); both responses rejected .*; stalled 5\.01 s until wgb retried \(wgb line 6\)/,
    );
    expect(r.stderr).toContain(
      "wga: 6 lines (6 wireguard-go), 6 handshake events; timestamps to 1 µs",
    );
  });

  it("analyze with a capture: each log aligned, every line matched to its frame within 1 ms", async () => {
    const r = await runCli([
      "analyze",
      CAPTURE,
      "--log",
      `A=${STALL}/wgA.log`,
      "-l",
      `B=${STALL}/wgB.log`,
      "--json",
    ]);
    expect(r.code).toBe(0);
    const objects = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const capture = objects.find((o) => o.capture).capture;
    const logs = objects.find((o) => o.logs).logs;
    expect(capture.collisions).toHaveLength(1);
    expect(logs.collisions).toHaveLength(1);
    // The same stall, seen in the capture and in the logs.
    expect(
      Math.abs(logs.collisions[0].stallSeconds - capture.collisions[0].stallSeconds),
    ).toBeLessThan(0.002);
    const alignments = objects.filter((o) => o.alignment).map((o) => o.alignment);
    expect(alignments.map((a) => [a.log, a.endpoint])).toEqual([
      ["A", "10.250.0.1:51820"],
      ["B", "10.250.0.2:51821"],
    ]);
    for (const a of alignments) {
      expect(a.linesWithoutFrame).toEqual([]);
      expect(a.framesWithoutLine).toEqual([]);
      expect(Math.abs(a.offsetSeconds)).toBeLessThan(0.01); // same machine, same clock
      expect(a.maxResidualSeconds).toBeLessThan(0.001);
    }
    expect(
      alignments[0].matched.map((m: { line: number; frame: number }) => [m.line, m.frame]),
    ).toEqual([
      [1, 2],
      [2, 1],
      [3, 3],
      [4, 4],
      [5, 5],
      [6, 6],
    ]);
  });

  it("flags a log line with no frame and a frame no line mentions", async () => {
    const path = join(dir, "edited.log");
    const lines = (await import("node:fs"))
      .readFileSync(`${STALL}/wgB.log`, "utf8")
      .trimEnd()
      .split("\n");
    // Drop B's retry initiation (frame 5 is then unmentioned) and invent a response sent 2 s later.
    lines.splice(5, 1);
    lines.push(
      "1795765111.000000 DEBUG: (wgb) 2026/11/27 07:38:31 peer(2pg5…vlWk) - Sending handshake response",
    );
    writeFileSync(path, `${lines.sort().join("\n")}\n`);
    const r = await runCli(["analyze", CAPTURE, "--log", `B=${path}`]);
    expect(r.stdout).toMatch(/line \d+\s+response-sent\s+✗ no frame in the capture/);
    expect(r.stdout).toMatch(
      /✗ frame 5 \(10\.250\.0\.2:51821 → 10\.250\.0\.1:51820, type 1, 5\.009864 s\): no line of B mentions it/,
    );
  });

  it("decode merges the log lines into the capture's timeline", async () => {
    const r = await runCli(["decode", CAPTURE, "-c", "6", "--log", `A=${STALL}/wgA.log`]);
    expect(r.code).toBe(0);
    const rows = r.stdout.split("\n");
    const frame2 = rows.findIndex((l) => /^\s+2\s/.test(l));
    const line1 = rows.findIndex((l) => l.includes("[A line 1] initiation-sent"));
    expect(line1).toBeGreaterThan(frame2 - 2);
    expect(rows[line1]).toContain("↔ frame 2");
  });

  it("usage and input errors: documented exit codes, no stack trace", async () => {
    expect((await runCli(["replay", CAPTURE, "--log", `${STALL}/wgA.log`])).code).toBe(1);
    expect((await runCli(["analyze", "-", "--log", "-"])).code).toBe(1);
    const missing = await runCli(["analyze", "--log", join(dir, "nope.log")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read log");
    const garbage = join(dir, "garbage.log");
    writeFileSync(garbage, Buffer.from([0, 1, 2, 255, 254, 10, 0x7b, 10, 0x5b, 0x20, 10]));
    const g = await runCli(["analyze", "--log", garbage]);
    expect(g.code).toBe(4);
    expect(g.stderr).toMatch(/3 lines not understood \(first: line 1 "\\\\x00\\\\x01\\\\x02/);
    expect(g.stderr).not.toMatch(STACK);
  });

  it("1 GiB of one line on stdin: reported as over-long, memory bounded (64 MiB heap)", async () => {
    const child = spawn(
      process.execPath,
      ["--max-old-space-size=64", CLI, "analyze", "--log", "-"],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.stdout.resume();
    const chunk = Buffer.alloc(1 << 20, 0x78);
    for (let i = 0; i < 1024; i++) {
      if (!child.stdin.write(chunk))
        await new Promise((resolve) => child.stdin.once("drain", resolve));
    }
    child.stdin.end(
      "\nDEBUG: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Sending handshake initiation\n",
    );
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(stderr).not.toMatch(STACK);
    expect(stderr).toContain("1 over-long line skipped");
    expect(stderr).toContain("2 lines (1 wireguard-go), 1 handshake event");
    expect(code).toBe(4);
  }, 300_000);
});
