import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readCaptureBytes } from "@wiregate/capture";
import { describe, expect, it } from "vitest";
import {
  Analyzer,
  type DecodedMessage,
  KeyMaterial,
  renderAnalysis,
  WireGuardDecoder,
} from "../src/index.js";

const CAPTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared/captures");

function decodeFile(path: string, keylog?: string): DecodedMessage[] {
  const keys = new KeyMaterial();
  if (keylog) keys.addKeyLog(readFileSync(keylog, "utf8"));
  const decoder = new WireGuardDecoder({ keys });
  const out: DecodedMessage[] = [];
  for (const record of readCaptureBytes(new Uint8Array(readFileSync(path)))) {
    const m = decoder.record(record);
    if (m) out.push(m);
  }
  return out;
}

function analyze(path: string, keylog?: string) {
  const analyzer = new Analyzer();
  for (const m of decodeFile(path, keylog)) analyzer.add(m);
  return analyzer.finish();
}

describe("analyze", () => {
  it("names the collision in collision-stall and measures the ~5 s stall", () => {
    const result = analyze(
      `${CAPTURES}/collision-stall/sim-nopsk-retry-run02.pcapng`,
      `${CAPTURES}/collision-stall/keylog.txt`,
    );
    expect(result.pairs).toHaveLength(1);
    const pair = result.pairs[0]!;
    expect(pair.collisions).toHaveLength(1);
    const c = pair.collisions[0]!;
    expect([c.first, c.second]).toEqual([1, 2]);
    expect(c.gapMs).toBeCloseTo(0.273, 2);
    expect(c.responsesIgnored).toBe(true);
    expect(c.stallSeconds).toBeGreaterThan(5);
    expect(c.stallSeconds).toBeLessThan(5.5);
    expect(c.resolvedBy).toMatchObject({ frame: 5, retry: true });
    expect(pair.unusedResponses).toEqual([3, 4]);
    expect(pair.retries.map((r) => r.frame)).toEqual([5]);
    // Peers are named by their static keys once the initiations are decrypted.
    expect(pair.peers.map((p) => p.staticKey)).toEqual([
      "aFHib+LsnbLB/2wMweLhlGjEtCl6atHDFxUPsoPcCH4=",
      "2pg5DeP9Tl79bQasAMCoeZb8zexr91owpk9lGYovlWk=",
    ]);
    const text = renderAnalysis(result);
    expect(text).toMatch(
      /collision at 0\.000 s: both initiated 0\.27 ms apart .*both responses ignored; stalled 5\.01 s until A retried/,
    );
    expect(text).toContain("STALLED");
  });

  it("sees no collision when the initiations did not cross, and measures fast convergence", () => {
    const result = analyze(`${CAPTURES}/collision-immediate/sim-nopsk-immediate-run03.pcapng`);
    const pair = result.pairs[0]!;
    expect(pair.collisions).toEqual([]);
    expect(pair.unusedResponses).toEqual([]);
    expect(pair.timeToWorkingSeconds).toBeLessThan(0.02);
    expect(renderAnalysis(result)).not.toContain("STALLED");
  });

  it("counts keepalives and links the normal handshake to its first data", () => {
    const result = analyze(`${CAPTURES}/normal/normal.pcap`);
    const pair = result.pairs[0]!;
    expect(pair.handshakes).toHaveLength(1);
    expect(pair.handshakes[0]).toMatchObject({
      initiationFrame: 1,
      response: { frame: 2 },
      initiatorDataAt: { frame: 3 },
      responderDataAt: { frame: 4 },
    });
    expect(pair.transport).toEqual({ AtoB: 4, BtoA: 3, keepalivesAtoB: 1, keepalivesBtoA: 0 });
  });

  it("decrypts inner packets with a full key log (PSK bound to ephemeral keys too)", () => {
    const messages = decodeFile(
      `${CAPTURES}/normal-fulldecrypt/full-normal.pcapng`,
      `${CAPTURES}/normal-fulldecrypt/keylog-full.txt`,
    );
    expect(messages[1]!.handshakeOk).toBe(true);
    expect(messages[2]!.inner).toMatch(
      /^ICMP echo request 10\.251\.0\.1 → 10\.251\.0\.2 id \d+ seq 1$/,
    );
    expect(messages[8]!.inner).toBe("keepalive");
  });
});
