import { describe, expect, it } from "vitest";
import { captureCases, runCli, tshark } from "./helpers.js";

const FIELDS = [
  "frame.number",
  "wg.type",
  "wg.sender",
  "wg.receiver",
  "wg.counter",
  "wg.handshake_ok",
  "wg.static",
];

function ours(line: string): string[] {
  const o = JSON.parse(line) as Record<string, unknown>;
  const text = (v: unknown) =>
    v === undefined ? "" : typeof v === "boolean" ? (v ? "1" : "0") : String(v);
  return FIELDS.map((f) => text(o[f]));
}

const cases = captureCases();

describe("decode --json agrees with tshark, message for message", () => {
  it("finds the shared captures", () => {
    expect(cases.length).toBeGreaterThanOrEqual(9);
  });
  for (const c of cases) {
    for (const keylog of [undefined, ...c.keylogs]) {
      it(`${c.name}${keylog ? ` with ${keylog.split("/").pop()}` : " without keys"}`, async () => {
        const args = ["decode", c.file, "--json"];
        if (keylog) args.push("--keylog", keylog);
        const [result, reference] = await Promise.all([
          runCli(args),
          tshark(c.file, FIELDS, keylog),
        ]);
        expect(result.code).toBe(0);
        const lines = result.stdout.split("\n").filter((l) => l !== "");
        expect(reference.length).toBeGreaterThan(0);
        expect(lines.map(ours)).toEqual(reference);
        if (keylog) {
          // With keys, the handshake was really decrypted: the initiations name their sender.
          expect(lines.some((l) => l.includes('"wg.static"'))).toBe(true);
        }
        if (keylog?.includes("full")) {
          // Full key logs decrypt the transport data too.
          expect(lines.some((l) => l.includes('"inner":"ICMP echo request'))).toBe(true);
          expect(lines.some((l) => l.includes('"wg.handshake_ok":true'))).toBe(true);
        }
      });
    }
  }
});
