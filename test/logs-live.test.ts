// Logs from real wireguard-go runs in namespaces, read by wiregate-replay next to a capture of the
// same run: the analysis from the logs alone finds the collisions, retries and stalls the capture's
// analysis finds, and every handshake line aligns with its frame within the timestamps' precision.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startCapture } from "./helpers/capture.js";
import { replayCli, wireguardGoPair } from "./helpers/wireguard-go-pair.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-logs-live-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: parsed CLI output, checked by the assertions
type Json = Record<string, any>;

/** analyze with the capture and both logs; the capture's pair, the logs' pair and both alignments. */
async function analyze(file: string, keylog: string, logA: string, logB: string) {
  const text = await replayCli([
    "analyze",
    file,
    "--keylog",
    keylog,
    "--log",
    `A=${logA}`,
    "--log",
    `B=${logB}`,
  ]);
  const r = await replayCli([
    "analyze",
    file,
    "--keylog",
    keylog,
    "--log",
    `A=${logA}`,
    "--log",
    `B=${logB}`,
    "--json",
  ]);
  expect(r.code, r.stderr).toBe(0);
  const objects = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Json);
  return {
    capture: objects.find((o) => o.capture)!.capture as Json,
    logs: objects.find((o) => o.logs)!.logs as Json,
    alignments: objects.filter((o) => o.alignment).map((o) => o.alignment as Json),
    /** The text report, shown when an assertion fails. */
    report: text.stdout,
  };
}

/** The same run read twice: wireguard-go's own whole-second stamps, and µs stamps taken on reading. */
async function scenario(
  name: string,
  options: { psk?: boolean },
  traffic: (
    a: Awaited<ReturnType<typeof wireguardGoPair>>["a"],
    b: Awaited<ReturnType<typeof wireguardGoPair>>["b"],
  ) => Promise<void>,
) {
  const { a, b, keylog } = await wireguardGoPair({ subnet: "10.82.0", dir, ...options });
  try {
    const capture = await startCapture({ ns: a.ns, iface: a.ns.iface, filter: "udp" });
    await traffic(a, b);
    const file = await capture.stop();
    const files = { whole: ["", ""], timed: ["", ""] };
    for (const [i, peer] of [a, b].entries()) {
      files.whole[i] = join(dir, `${name}-${i}.log`);
      files.timed[i] = join(dir, `${name}-${i}.timed.log`);
      writeFileSync(files.whole[i]!, `${peer.log()}\n`);
      writeFileSync(files.timed[i]!, `${peer.timedLog()}\n`);
    }
    const whole = await analyze(file, keylog, files.whole[0]!, files.whole[1]!);
    const timed = await analyze(file, keylog, files.timed[0]!, files.timed[1]!);
    return { whole, timed, a, b };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

/**
 * The same collisions, retries and stalls; each log one side of the capture, its handshake lines on
 * their frames. Durations and alignment are checked on wireguard-go's own stamps only: read-time
 * stamps depend on when this process read the pipe (their numbers are printed, not asserted).
 */
function expectSameStory(
  result: { capture: Json; logs: Json; alignments: Json[]; report: string },
  precision: number,
) {
  try {
    sameStory(result, precision >= 1);
  } catch (error) {
    (error as Error).message += `\n${result.report}`;
    throw error;
  }
}

function sameStory(result: { capture: Json; logs: Json; alignments: Json[] }, ownStamps: boolean) {
  const { capture, logs, alignments } = result;
  expect(logs.collisions.length).toBe(capture.collisions.length);
  expect(logs.retries.length).toBe(capture.retries.length);
  expect(alignments.map((x) => x.log).sort()).toEqual(["A", "B"]);
  if (!ownStamps) return;
  for (const [i, c] of capture.collisions.entries()) {
    const l = logs.collisions[i];
    expect(l.responsesRejected.length).toBe(c.responsesIgnored ? 2 : l.responsesRejected.length);
    // Logs date a session from the handshake, the capture from data both ways: a round trip apart.
    expect(Math.abs(l.stallSeconds - c.stallSeconds)).toBeLessThanOrEqual(1.5);
  }
  // Stalled (a retry, seconds) or not (milliseconds) alike.
  if (capture.timeToWorkingSeconds > 1)
    expect(Math.abs(logs.timeToWorkingSeconds - capture.timeToWorkingSeconds)).toBeLessThanOrEqual(
      1.5,
    );
  else expect(logs.timeToWorkingSeconds).toBeLessThan(2);
  for (const x of alignments) {
    expect(x.linesWithoutFrame, `${x.log}: ${JSON.stringify(x)}`).toEqual([]);
    expect(x.matched.length).toBeGreaterThanOrEqual(2);
  }
}

describe("logs of real wireguard-go runs next to their capture", () => {
  for (const psk of [false, true]) {
    it(`${psk ? "with a preshared key" : "normal"}: one clean handshake in logs and capture, lines aligned`, async () => {
      const { whole, timed } = await scenario(psk ? "psk" : "normal", { psk }, async (_a, b) => {
        const ping = await b.ping("10.82.0.1", { count: 3 });
        expect(ping.ok, ping.output).toBe(true);
      });
      for (const [result, precision] of [
        [whole, 1],
        [timed, 1e-6],
      ] as const) {
        expectSameStory(result, precision);
        expect(result.logs.collisions).toEqual([]);
        if (precision === 1)
          for (const x of result.alignments) expect(x.framesWithoutLine).toEqual([]);
      }
      for (const x of whole.alignments)
        for (const m of x.matched) expect(m.residual).toBeGreaterThan(-0.02);
      console.log(
        `${psk ? "psk" : "normal"}: largest line↔frame difference with µs stamps ${timed.alignments.map((x) => `${x.log} ${(x.maxResidualSeconds * 1000).toFixed(3)} ms`).join(", ")}`,
      );
    }, 60_000);
  }

  it("both initiating at once: the logs find the crossing (or its absence) and the stall the capture shows", async () => {
    const { whole, timed } = await scenario("simultaneous", {}, async (a, b) => {
      const [pa, pb] = await Promise.all([
        a.ping("10.82.0.2", { count: 40, waitSeconds: 1 }),
        b.ping("10.82.0.1", { count: 40, waitSeconds: 1 }),
      ]);
      console.log(`simultaneous: pings answered ${pa.received} + ${pb.received}`);
    });
    expectSameStory(whole, 1);
    expectSameStory(timed, 1e-6);
    for (const [i, c] of whole.capture.collisions.entries()) {
      const l = whole.logs.collisions[i];
      if (c.responsesIgnored) {
        expect(l.seenBy.sort()).toEqual(["A", "B"]);
        expect(l.responsesRejected).toHaveLength(2);
      }
      expect(l.resolvedBy?.retry).toBe(c.resolvedBy?.retry);
    }
    console.log(
      `simultaneous: crossed ${timed.capture.collisions.length > 0}; capture stall ${timed.capture.timeToWorkingSeconds?.toFixed(3)} s, logs ${timed.logs.timeToWorkingSeconds?.toFixed(3)} s (µs stamps) / ${whole.logs.timeToWorkingSeconds?.toFixed(3)} s (whole seconds)`,
    );
  }, 90_000);

  it("lossy: B never sees A's first initiation; the logs show A's retry, the capture the frame B's log never mentions", async () => {
    const { whole, timed } = await scenario("lossy", {}, async (a, b) => {
      // Deterministic loss: B's namespace drops the first WireGuard handshake initiation it receives
      // (a 148-byte UDP payload; the quota lets only one through the drop rule).
      const rule = await b.ns.exec("nft", ["-f", "-"], {
        input:
          "table inet loss {\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp length 156 quota until 200 bytes drop\n }\n}\n",
      });
      expect(rule.code, rule.stderr).toBe(0);
      const ping = await a.ping("10.82.0.2", { count: 40, waitSeconds: 1 });
      expect(ping.received, ping.output).toBeGreaterThan(0);
    });
    for (const [result, precision] of [
      [whole, 1],
      [timed, 1e-6],
    ] as const) {
      expectSameStory(result, precision);
      expect(result.capture.retries).toHaveLength(1);
    }
    const bAlign = whole.alignments.find((x) => x.log === "B")!;
    expect(bAlign.framesWithoutLine).toEqual([1]); // the dropped initiation
    expect(timed.logs.retries[0].log).toBe("A");
    expect(whole.logs.timeToWorkingSeconds).toBeGreaterThanOrEqual(5);
  }, 90_000);
});
