import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readCaptureBytes } from "@wiregate/capture";
import { describe, expect, it } from "vitest";
import {
  Analyzer,
  analyzeLogs,
  type DecodedMessage,
  enumerateWireGuardGoCrossing,
  formatWireGuardGoLog,
  KeyMaterial,
  type ModelLogLine,
  parseLog,
  renderLogAnalysis,
  replayCapture,
  WireGuardDecoder,
} from "../src/index.js";

const CAPTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared/captures");

function decode(path: string, keylog: string): { messages: DecodedMessage[]; keys: KeyMaterial } {
  const keys = new KeyMaterial();
  keys.addKeyLog(readFileSync(keylog, "utf8"));
  const decoder = new WireGuardDecoder({ keys, keepPayload: true, keepPlaintext: true });
  const messages: DecodedMessage[] = [];
  for (const record of readCaptureBytes(new Uint8Array(readFileSync(path)))) {
    const m = decoder.record(record);
    if (m) messages.push(m);
  }
  return { messages, keys };
}

/** The replay's lines ("A: …", "ERROR B: …") as one model log per side. */
function bySide(lines: readonly { time: number; text: string }[], side: "A" | "B"): ModelLogLine[] {
  return lines.flatMap((l) => {
    const error = l.text.startsWith("ERROR ");
    const text = error ? l.text.slice(6) : l.text;
    return text.startsWith(`${side}: `)
      ? [{ time: l.time, level: error ? "error" : "debug", text } as ModelLogLine]
      : [];
  });
}

describe("round trip: the wireguard-go model's logs read back", () => {
  it("a replayed collision logs in wireguard-go's format and the logs give the capture's verdict", () => {
    const dir = `${CAPTURES}/collision-stall`;
    const { messages, keys } = decode(`${dir}/sim-nopsk-retry-run02.pcapng`, `${dir}/keylog.txt`);
    const captured = new Analyzer();
    for (const m of messages) captured.add(m);
    const capture = captured.finish().pairs[0]!;
    const replay = replayCapture(messages, { model: "wireguard-go", keys });
    const epochSeconds = Number(messages[0]!.timestampNs / 1000n) / 1e6;
    const logs = (["A", "B"] as const).map((side) => {
      const text = formatWireGuardGoLog(bySide(replay.lines, side), {
        interface: `wg${side.toLowerCase()}`,
        peer: side === "A" ? "PEER…OFA" : "PEER…OFB",
        peerEndpoint: side === "A" ? "192.0.2.2:51820" : "192.0.2.1:51820",
        epochSeconds,
        unixPrefix: true,
      });
      expect(text).toMatch(
        /^\d+\.\d{6} DEBUG: \(wg[ab]\) \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d peer\(PEER…OF[AB]\) - Sending handshake initiation$/m,
      );
      expect(text).toContain(`Received invalid response message from 192.0.2.`);
      return parseLog(text, { name: side });
    });
    for (const log of logs) expect(log.report.unrecognised.count).toBe(0);
    const result = analyzeLogs(logs);
    const pair = result.pairs[0]!;
    // The capture's verdict: one collision, both responses dropped, stalled ~5 s until a retry.
    expect(capture.collisions).toHaveLength(1);
    expect(pair.collisions).toHaveLength(1);
    const c = pair.collisions[0]!;
    expect(c.seenBy.sort()).toEqual(["A", "B"]);
    expect(c.responsesRejected).toHaveLength(2);
    expect(capture.collisions[0]!.responsesIgnored).toBe(true);
    expect(c.resolvedBy?.retry).toBe(capture.collisions[0]!.resolvedBy?.retry);
    expect(Math.abs(c.stallSeconds! - capture.collisions[0]!.stallSeconds!)).toBeLessThan(0.35); // the model's own jitter
    expect(renderLogAnalysis(result)).toMatch(/stalled 5\.\d\d s until [AB] retried/);
  });

  it("the model's interleavings that hit the seed's errors read back as the seed's errors, named", () => {
    const report = enumerateWireGuardGoCrossing();
    const seen = new Set<string>();
    for (const i of report.interleavings) {
      if (i.errors.length === 0) continue;
      const text = formatWireGuardGoLog(
        i.errors.map((e) => ({ time: 0, level: "error", text: e })),
        {
          interface: "wg0",
          peer: "AbCd…WxYz",
          peerEndpoint: "192.0.2.2:51820",
          epochSeconds: 1614255781,
        },
      );
      const log = parseLog(text, { name: "A" });
      expect(log.report.unrecognised.count).toBe(0);
      const verdicts = analyzeLogs([log]).pairs[0]!.verdicts.join("\n");
      for (const e of log.events) {
        expect(e.level).toBe("error");
        seen.add(e.kind);
      }
      expect(verdicts).toContain("wireguard-go's handshake-slot race");
    }
    expect([...seen].sort()).toEqual(["keypair-derive-failed", "response-create-failed"]);
  });
});
