import { spawnSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PcapngWriter, readCaptureBytes } from "@wiregate/capture";
import { afterAll, describe, expect, it } from "vitest";
import { CAPTURES } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-memory-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `times` back-to-back copies of a capture, each re-timestamped after the previous one. */
function repeatCapture(source: string, times: number, out: string): void {
  const records = [...readCaptureBytes(new Uint8Array(readFileSync(source)))].filter(
    (r) => r.kind === "packet",
  );
  const first = records[0]!.timestampNs;
  const span = records.at(-1)!.timestampNs - first + 1_000_000_000n;
  const writer = new PcapngWriter();
  const fd = openSync(out, "w");
  writeSync(fd, writer.addInterface({ linkType: records[0]!.linkType }));
  for (let i = 0; i < times; i++) {
    const chunks: Uint8Array[] = [];
    for (const r of records) {
      chunks.push(
        writer.writePacket({ timestampNs: r.timestampNs + span * BigInt(i), data: r.data }),
      );
    }
    writeSync(fd, Buffer.concat(chunks));
  }
  closeSync(fd);
}

const COMMANDS = resolve(import.meta.dirname, "../dist/commands.js");

/** Runs a command in a fresh Node process with stdout discarded; returns its peak RSS in MiB. */
function peakRss(argv: string[]): { rssMiB: number; stderr: string } {
  const script = `
    import { run } from ${JSON.stringify(COMMANDS)};
    const sink = { write: () => true, once() {}, isTTY: false };
    const err = { text: "", write(c) { this.text += c; return true; }, once() {} };
    const code = await run(${JSON.stringify(argv)}, { stdout: sink, stderr: err });
    process.stderr.write(JSON.stringify({ code, rss: process.resourceUsage().maxRSS, err: err.text }));
  `;
  // A 32 MiB heap limit: a tool that kept what it read would die on the 60 MiB input. A small
  // young generation keeps V8 from growing its heap just because it may (which RSS would show).
  const flags = ["--max-old-space-size=32", "--max-semi-space-size=2"];
  const r = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 120_000,
  });
  const result = JSON.parse(r.stderr) as { code: number; rss: number; err: string };
  expect(result.code).toBe(0);
  return { rssMiB: result.rss / 1024, stderr: result.err };
}

describe("memory stays flat however large the capture (32 MiB heap limit)", () => {
  it("peak RSS for 10×, 100× and 1000× copies of a capture (decode with keys, and analyze)", () => {
    const source = `${CAPTURES}/collision-stall-fulldecrypt/full-sim-nopsk-crossed-run02.pcapng`;
    const keylog = `${CAPTURES}/collision-stall-fulldecrypt/keylog-full.txt`;
    const rows: string[] = [];
    const rss: Record<number, number> = {};
    for (const times of [10, 100, 1000]) {
      const file = join(dir, `x${times}.pcapng`);
      repeatCapture(source, times, file);
      const decode = peakRss(["decode", file, "--json", "--keylog", keylog]);
      expect(decode.stderr).toMatch(new RegExp(`^${306 * times} WireGuard messages`));
      const analyze = peakRss(["analyze", file]);
      rss[times] = Math.max(decode.rssMiB, analyze.rssMiB);
      rows.push(
        `${times}× (${(statSync(file).size / 2 ** 20).toFixed(1)} MiB, ${306 * times} messages): decode ${decode.rssMiB.toFixed(0)} MiB, analyze ${analyze.rssMiB.toFixed(0)} MiB peak RSS`,
      );
    }
    console.log(rows.join("\n"));
    // The input grows by ~59 MiB from 10× to 1000×; the peak RSS must not follow it.
    expect(rss[1000]! - rss[10]!).toBeLessThan(25);
  }, 180_000);
});
