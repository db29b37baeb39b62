import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readCaptureBytes } from "@wiregate/capture";
import { describe, expect, it } from "vitest";
import {
  alignLog,
  type DecodedMessage,
  KeyMaterial,
  parseLog,
  WireGuardDecoder,
} from "../src/index.js";

const DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../shared/captures/collision-stall",
);

function messages(): DecodedMessage[] {
  const keys = new KeyMaterial();
  keys.addKeyLog(readFileSync(`${DIR}/keylog.txt`, "utf8"));
  const decoder = new WireGuardDecoder({ keys });
  const out: DecodedMessage[] = [];
  for (const r of readCaptureBytes(
    new Uint8Array(readFileSync(`${DIR}/sim-nopsk-retry-run02.pcapng`)),
  )) {
    const m = decoder.record(r);
    if (m) out.push(m);
  }
  return out;
}

describe("aligning a log with a capture", () => {
  const captured = messages();

  it("microsecond stamps: side found by endpoint, every line on its frame within 1 ms", () => {
    const a = alignLog(parseLog(readFileSync(`${DIR}/wgB.log`, "utf8"), { name: "B" }), captured)!;
    expect(a).toMatchObject({
      endpoint: "10.250.0.2:51821",
      sideBy: "endpoint",
      linesWithoutFrame: [],
      framesWithoutLine: [],
    });
    expect(a.matches.map((m) => m.frame)).toEqual([1, 2, 4, 3, 5, 6]);
    expect(a.maxResidualSeconds).toBeLessThan(0.001);
  });

  it("whole-second stamps shifted by an unknown clock offset: every frame inside its line's second", () => {
    // wireguard-go's own stamps only, and a clock 3 h 17 s behind the capture's.
    const text = readFileSync(`${DIR}/wgA.log`, "utf8")
      .split("\n")
      .map((l) =>
        l
          .replace(/^\d+\.\d+ /, "")
          .replace(/07:38:(\d\d)/, (_, s) => `04:38:${String(Number(s) - 17).padStart(2, "0")}`),
      )
      .join("\n");
    const a = alignLog(parseLog(text, { name: "A" }), captured)!;
    expect(a.precision).toBe(1);
    expect(a.linesWithoutFrame).toEqual([]);
    expect(a.matches.map((m) => m.frame)).toEqual([2, 1, 3, 4, 5, 6]);
    expect(a.offsetSeconds).toBeGreaterThan(3 * 3600 + 17 - 1);
    expect(a.offsetSeconds).toBeLessThan(3 * 3600 + 17 + 1);
    for (const m of a.matches) {
      expect(m.residual).toBeGreaterThanOrEqual(0);
      expect(m.residual).toBeLessThan(1);
    }
  });
});

describe("a kernel log next to a capture", () => {
  const captured = messages();

  it("finds the monotonic clock's offset and puts every line on its frame", () => {
    // B's wireguard-go log rewritten line for line into the kernel module's format strings, on a
    // monotonic clock (seconds since boot) instead of the wall clock.
    const boot = 1795760000;
    const KERNEL: [RegExp, string][] = [
      [
        /Sending handshake initiation$/,
        "Sending handshake initiation to peer 1 (10.250.0.1:51820)",
      ],
      [
        /Received handshake initiation$/,
        "Receiving handshake initiation from peer 1 (10.250.0.1:51820)",
      ],
      [/Sending handshake response$/, "Sending handshake response to peer 1 (10.250.0.1:51820)"],
      [
        /Received handshake response$/,
        "Receiving handshake response from peer 1 (10.250.0.1:51820)",
      ],
      [
        /Received invalid response message from (.*)$/,
        "Invalid handshake response from 10.250.0.1:51820",
      ],
      [
        /retrying \(try 2\)$/,
        "Handshake for peer 1 (10.250.0.1:51820) did not complete after 5 seconds, retrying (try 2)",
      ],
    ];
    const dmesg = readFileSync(`${DIR}/wgB.log`, "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => {
        const [stamp] = line.split(" ");
        const message = KERNEL.find(([p]) => p.test(line))![1];
        return `[${(Number(stamp) - boot).toFixed(6).padStart(12)}] wireguard: wg0: ${message}`;
      })
      .join("\n");
    const log = parseLog(dmesg, { name: "B" });
    expect(log.report.clock).toBe("monotonic");
    const a = alignLog(log, captured)!;
    expect(a).toMatchObject({
      endpoint: "10.250.0.2:51821",
      sideBy: "endpoint",
      linesWithoutFrame: [],
      framesWithoutLine: [],
    });
    expect(a.matches.map((m) => m.frame)).toEqual([1, 2, 4, 3, 5, 6]);
    expect(a.offsetSeconds).toBeCloseTo(boot, 2);
    expect(a.maxResidualSeconds).toBeLessThan(0.001);
  });
});
