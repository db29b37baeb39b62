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
