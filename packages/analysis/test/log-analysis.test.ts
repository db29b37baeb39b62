import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { analyzeLogs, parseLog, renderLogAnalysis } from "../src/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const CAPTURES = resolve(HERE, "../../../../shared/captures");
const FIXTURES = resolve(HERE, "fixtures/logs");
const read = (path: string, name: string) =>
  parseLog(readFileSync(path, "utf8"), { name, year: 2026 });

describe("analysis from logs alone", () => {
  it("finds collision-stall's crossing, both rejected responses and the 5.01 s stall", () => {
    const result = analyzeLogs([
      read(`${CAPTURES}/collision-stall/wgA.log`, "A"),
      read(`${CAPTURES}/collision-stall/wgB.log`, "B"),
    ]);
    expect(result.pairs).toHaveLength(1);
    const pair = result.pairs[0]!;
    expect(pair.sharedClock).toBe(true);
    expect(pair.collisions).toHaveLength(1);
    const c = pair.collisions[0]!;
    expect(c.seenBy.sort()).toEqual(["A", "B"]);
    expect(c.first).toMatchObject({ log: "B", line: 1 });
    expect(c.second).toMatchObject({ log: "A", line: 1 });
    expect(c.gapSeconds).toBeCloseTo(0.000767, 6);
    expect(c.responsesRejected.map((r) => `${r.log}:${r.line}`).sort()).toEqual(["A:4", "B:4"]);
    expect(c.resolvedBy).toMatchObject({ log: "B", line: 6, retry: true });
    expect(c.stallSeconds).toBeGreaterThan(5);
    expect(c.stallSeconds).toBeLessThan(5.1);
    expect(pair.timeToWorkingSeconds).toBeCloseTo(c.stallSeconds!, 9);
    const text = renderLogAnalysis(result);
    expect(text).toMatch(
      /collision at 0\.000 s: both initiated 0\.77 ms apart \(B line 1, A line 1; timestamps to 1 µs\); both responses rejected \(.*\); stalled 5\.01 s until B retried \(B line 6\)/,
    );
    expect(text).toContain("STALLED");
  });

  it("with one-second stamps, says the crossing cannot be timed but still finds it", () => {
    const strip = (path: string, name: string) =>
      parseLog(
        readFileSync(path, "utf8")
          .split("\n")
          .map((l) => l.replace(/^\d+\.\d+ /, ""))
          .join("\n"),
        { name },
      );
    const result = analyzeLogs([
      strip(`${CAPTURES}/collision-stall/wgA.log`, "A"),
      strip(`${CAPTURES}/collision-stall/wgB.log`, "B"),
    ]);
    const pair = result.pairs[0]!;
    expect(pair.precision).toBe(1);
    expect(pair.collisions).toHaveLength(1);
    const text = renderLogAnalysis(result);
    expect(text).toContain("one-second timestamps cannot order or time the crossing");
    expect(text).toMatch(/stalled 5\.00 s \(±1 s\) until B retried/);
  });

  it("names the seed's two error messages", () => {
    const log = parseLog(
      [
        "DEBUG: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Sending handshake initiation",
        "DEBUG: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Received handshake initiation",
        "ERROR: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Failed to create response message: handshake initiation must be consumed first",
        "DEBUG: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Received handshake response",
        "ERROR: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Failed to derive keypair: invalid state for keypair derivation",
      ].join("\n"),
      { name: "A" },
    );
    const text = renderLogAnalysis(analyzeLogs([log]));
    expect(text).toContain(
      'A line 3: "Failed to create response message: handshake initiation must be consumed first" — wireguard-go\'s handshake-slot race',
    );
    expect(text).toContain(
      'A line 5: "Failed to derive keypair: invalid state for keypair derivation" — wireguard-go\'s handshake-slot race',
    );
    expect(text).toContain("the initiations crossed (the peer's log is not here)");
    expect(text).toContain("no handshake completed afterwards");
  });

  it("analyses the kernel-format samples (monotonic dmesg and the journal) alike", () => {
    for (const file of ["kernel-dmesg.txt", "kernel-journal.txt"]) {
      const result = analyzeLogs([read(`${FIXTURES}/${file}`, "K")]);
      const pair = result.pairs[0]!;
      expect(pair.name).toBe("K ⇄ peer 1");
      expect(pair.collisions).toHaveLength(1);
      expect(pair.collisions[0]!.responsesRejected).toHaveLength(1);
      expect(pair.collisions[0]!.resolvedBy).toMatchObject({ line: 10, retry: true });
      expect(pair.collisions[0]!.stallSeconds).toBeCloseTo(5.013106, 6);
      expect(pair.retries).toMatchObject([{ line: 10, try: 2 }]);
    }
  });
});

describe("one side's log only", () => {
  it("reads the stall up to the peer's next initiation", () => {
    const result = analyzeLogs([
      parseLog(readFileSync(`${CAPTURES}/collision-stall/wgA.log`, "utf8"), { name: "A" }),
    ]);
    const c = result.pairs[0]!.collisions[0]!;
    expect(c.answeredNext).toMatchObject({ log: "A", line: 5 });
    expect(c.stallSeconds).toBeCloseTo(5.009618, 5);
    const text = renderLogAnalysis(result);
    expect(text).toContain(
      "stalled 5.01 s until the peer initiated again (received at A line 5; only the peer's log can show it completing)",
    );
    expect(text).toContain(
      "no handshake of A's own completed; it answered the peer's initiation 5.01 s after its first (A line 5): STALLED",
    );
  });
});
