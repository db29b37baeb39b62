import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeReport, LogReader, parseLog } from "../src/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const CAPTURES = resolve(HERE, "../../../../shared/captures");
const FIXTURES = resolve(HERE, "fixtures/logs");

describe("wireguard-go log", () => {
  it("reads a real log with a Unix-time prefix: every line, microsecond times", () => {
    const log = parseLog(readFileSync(`${CAPTURES}/collision-stall/wgB.log`, "utf8"), {
      name: "B",
    });
    expect(log.report.unrecognised.count).toBe(0);
    expect(log.report.format).toBe("wireguard-go");
    expect(log.report.precision).toBeCloseTo(1e-6, 12);
    expect(log.report.interfaces).toEqual(["wgb"]);
    expect(log.report.peers).toEqual(["2pg5…vlWk"]);
    expect(log.events.map((e) => e.kind)).toEqual([
      "initiation-sent",
      "initiation-received",
      "response-sent",
      "response-invalid",
      "retry",
      "initiation-sent",
      "response-received",
    ]);
    expect(log.events[0]!.time).toBeCloseTo(1795765109.072307, 6);
    expect(log.events[3]!.endpoint).toBe("10.250.0.1:51820");
    expect(log.events[4]!.number).toBe(2);
  });

  it("reads bare lines (whole seconds, UTC) and the seed's two error messages", () => {
    const log = parseLog(
      [
        "DEBUG: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Sending handshake initiation",
        "ERROR: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Failed to create response message: handshake initiation must be consumed first",
        "ERROR: (wg0) 2021/02/25 12:23:02 peer(AbCd…WxYz) - Failed to derive keypair: invalid state for keypair derivation",
        "DEBUG: (wg0) 2021/02/25 12:23:02 Routine: handshake worker 1 - started",
      ].join("\n"),
      { name: "x" },
    );
    expect(log.report.precision).toBe(1);
    expect(log.report.otherLines).toBe(1);
    expect(log.events.map((e) => [e.kind, e.level, e.detail])).toEqual([
      ["initiation-sent", "debug", undefined],
      ["response-create-failed", "error", "handshake initiation must be consumed first"],
      ["keypair-derive-failed", "error", "invalid state for keypair derivation"],
    ]);
    expect(log.events[0]!.time).toBe(Date.UTC(2021, 1, 25, 12, 23, 1) / 1000);
  });

  it("takes the finer time of a journal prefix (short-precise), and its year from the line", () => {
    const log = parseLog(
      "Feb 25 12:23:01.250001 host wireguard-go[811]: DEBUG: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Sending handshake initiation\n",
      { name: "j" },
    );
    expect(log.events).toHaveLength(1);
    expect(log.events[0]!.time).toBeCloseTo(Date.UTC(2021, 1, 25, 12, 23, 1) / 1000 + 0.250001, 6);
    expect(log.events[0]!.precision).toBeCloseTo(1e-6, 12);
  });
});

describe("kernel log", () => {
  it("reads dmesg (monotonic) samples written from the kernel's format strings", () => {
    const log = parseLog(readFileSync(`${FIXTURES}/kernel-dmesg.txt`, "utf8"), { name: "k" });
    expect(log.report.unrecognised.count).toBe(0);
    expect(log.report.format).toBe("kernel");
    expect(log.report.clock).toBe("monotonic");
    expect(log.report.otherLines).toBe(3); // banner ×2, "Peer 1 created"
    expect(log.events.map((e) => e.kind)).toEqual([
      "initiation-sent",
      "initiation-received",
      "response-sent",
      "keypair-created",
      "response-invalid",
      "retry",
      "initiation-sent",
      "response-received",
      "keypair-destroyed",
      "keypair-created",
      "keepalive-sent",
    ]);
    expect(log.events[0]).toMatchObject({
      peer: "peer 1",
      endpoint: "10.250.0.2:51821",
      time: 4325.000101,
    });
    expect(log.events[5]!.number).toBe(2);
  });

  it("reads journalctl -k -o short-precise (wall clock, year given)", () => {
    const log = parseLog(readFileSync(`${FIXTURES}/kernel-journal.txt`, "utf8"), {
      name: "k",
      year: 2026,
    });
    expect(log.report.unrecognised.count).toBe(0);
    expect(log.report.clock).toBe("wall");
    expect(log.events[0]!.time).toBeCloseTo(Date.UTC(2026, 10, 27, 7, 38, 28) / 1000 + 0.000101, 6);
  });
});

describe("trace NDJSON", () => {
  it("reads exported timeline events (at) and the relay's JSON log lines", () => {
    const log = parseLog(
      [
        JSON.stringify({
          at: 1795765109073.5,
          time: 10,
          kind: "initiation-sent",
          level: "debug",
          peer: "aFHib+Ls",
        }),
        JSON.stringify({
          time: "2026-11-27T07:38:29.080Z",
          level: "info",
          msg: "demo peer",
          kind: "collision",
        }),
        JSON.stringify({ kind: "not-a-kind", at: 1 }),
      ].join("\n"),
      { name: "t" },
    );
    expect(log.events.map((e) => e.kind)).toEqual(["initiation-sent", "collision"]);
    expect(log.events[0]!.time).toBeCloseTo(1795765109.0735, 4);
    expect(log.report.unrecognised.count).toBe(1);
  });
});

describe("hostile logs", () => {
  it("reports garbage, over-long lines, mixed formats and time going backwards", () => {
    const reader = new LogReader({ name: "h", maxLine: 1000 });
    reader.push("\u0000\u0001binary\uFFFD garbage\n");
    for (let i = 0; i < 100; i++) reader.push("x".repeat(10_000)); // one 1 MB line
    reader.push(
      "\nDEBUG: (wg0) 2021/02/25 12:23:05 peer(AbCd…WxYz) - Sending handshake initiation\n",
    );
    reader.push("[  1.000000] wireguard: wg0: Keypair 1 created for peer 1\n");
    reader.push("DEBUG: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Sending handshake initiation");
    const { report, events } = reader.finish();
    expect(report.lines).toBe(5);
    expect(report.tooLong).toBe(1);
    expect(report.unrecognised.count).toBe(1);
    expect(report.unrecognised.examples[0]!.text).toBe("\\x00\\x01binary\uFFFD garbage");
    expect(report.formats).toEqual({ "wireguard-go": 2, kernel: 1 });
    expect(report.backwards).toEqual({ count: 1, first: { line: 5, bySeconds: 4 } });
    expect(events).toHaveLength(3);
    const text = describeReport(report);
    expect(text).toContain("mixed formats");
    expect(text).toContain("1 over-long line skipped");
    expect(text).toContain("time goes backwards 1 time (first at line 5, by 4.000 s)");
  });

  it("never throws and keeps bounded state on arbitrary input in arbitrary chunks", () => {
    const line = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        "DEBUG: (wg0) 2021/02/25 12:23:01 peer(AbCd…WxYz) - Sending handshake initiation",
        "1795765109.073074 DEBUG: (wga) 2026/11/27 07:38:29 Received invalid response message from 10.250.0.2:51821",
        "[ 4330.012402] wireguard: wg0: Handshake for peer 1 (10.250.0.2:51821) did not complete after 5 seconds, retrying (try 2)",
        '{"kind":"initiation-sent","at":1}',
        "Feb 30 99:99:99.1 h k: wireguard: wg0: Keypair 1 created for peer 1",
        "[",
        "{",
      ),
    );
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 40 }),
        fc.array(fc.nat(300), { maxLength: 8 }),
        (lines, cuts) => {
          const text = lines.join("\n");
          const reader = new LogReader({ name: "p", maxLine: 256, maxEvents: 10 });
          let at = 0;
          for (const cut of cuts) {
            reader.push(text.slice(at, at + cut));
            at += cut;
          }
          reader.push(text.slice(at));
          const { report, events } = reader.finish();
          expect(events.length).toBeLessThanOrEqual(10);
          expect(report.unrecognised.examples.length).toBeLessThanOrEqual(5);
          for (const e of report.unrecognised.examples)
            expect(e.text.length).toBeLessThanOrEqual(800);
          for (const e of events) expect(Number.isFinite(e.time)).toBe(true);
          const lineCount =
            text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
          expect(report.lines).toBe(lineCount);
          // Chunking does not change the result.
          const whole = parseLog(text, { name: "p", maxLine: 256, maxEvents: 10 });
          expect(whole.report).toEqual(report);
        },
      ),
      { numRuns: 300 },
    );
  });
});
