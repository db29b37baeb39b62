// Captures made by the tests themselves: two unmodified wireguard-go peers in namespaces (normal,
// with a preshared key, and both initiating at once), checked through wiregate-replay against
// tshark, and the collision run's analysis checked against the replays.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, onTestFailed } from "vitest";
import { startCapture } from "./helpers/capture.js";
import { tsharkFields } from "./helpers/tshark.js";
import { replayCli, wireguardGoPair } from "./helpers/wireguard-go-pair.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-replay-live-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A failing run's capture and key log are kept here, to be replayed and turned into a fixture. */
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), "test-results", "replay-live");

function keepOnFailure(file: string, keylog: string): void {
  onTestFailed(() => {
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    mkdirSync(RESULTS, { recursive: true });
    copyFileSync(file, join(RESULTS, `${stamp}-${basename(file)}`));
    copyFileSync(keylog, join(RESULTS, `${stamp}-${basename(keylog)}`));
  });
}

const FIELDS = ["wg.type", "wg.sender", "wg.receiver", "wg.counter", "wg.handshake_ok"];

async function expectAgreement(file: string, keylog: string): Promise<Record<string, unknown>[]> {
  const ours = await replayCli(["decode", file, "--keylog", keylog, "--json"]);
  expect(ours.code, ours.stderr).toBe(0);
  const records = ours.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const reference = await tsharkFields(file, FIELDS, { displayFilter: "wg", keylog });
  const text = (v: unknown) =>
    v === undefined ? "" : typeof v === "boolean" ? (v ? "1" : "0") : String(v);
  expect(records.map((r) => FIELDS.map((f) => text(r[f])))).toEqual(
    reference.map((row) => FIELDS.map((f) => row[f])),
  );
  return records;
}

describe("replay tool on captures of two wireguard-go peers", () => {
  for (const psk of [false, true]) {
    it(`${psk ? "with a preshared key" : "normal"}: decode agrees with tshark, analyze sees one clean handshake`, async () => {
      const { a, b, keylog, staticB } = await wireguardGoPair({ subnet: "10.81.0", dir, psk });
      try {
        const capture = await startCapture({ ns: a.ns, iface: a.ns.iface, filter: "udp" });
        const ping = await b.ping("10.81.0.1", { count: 3 });
        expect(ping.ok, ping.output).toBe(true);
        const file = await capture.stop();
        const records = await expectAgreement(file, keylog);
        // B initiated: its static key was decrypted from the initiation.
        expect(records[0]!["wg.static"]).toBe(staticB);
        const analysis = await replayCli(["analyze", file, "--keylog", keylog, "--json"]);
        const [pairResult] = analysis.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        expect(pairResult.collisions).toEqual([]);
        expect(pairResult.handshakes.length).toBe(1);
        expect(pairResult.timeToWorkingSeconds).toBeLessThan(1);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  }

  it("both initiating at once: analysis and replays agree on whether it crossed and stalled", async () => {
    const { a, b, keylog } = await wireguardGoPair({ subnet: "10.81.0", dir });
    const capture = await startCapture({ ns: a.ns, iface: a.ns.iface, filter: "udp" });
    try {
      // Both start pinging at once, so both initiate at once. Only B goes on: two pingers in step
      // would retry in step after wireguard-go's 5 s stall and can cross again and again (seen on
      // a loaded machine: nothing got through in 8 s). B pings until 40 replies or 25 s, so a
      // crossing that stalls until the retry is resolved inside the capture.
      const [pa, pb] = await Promise.all([
        a.ping("10.81.0.2", { count: 3 }),
        b.ping("10.81.0.1", { count: 40, deadlineSeconds: 25 }),
      ]);
      expect(pb.received, `A: ${pa.output}\nB: ${pb.output}`).toBe(40);
      const file = await capture.stop();
      keepOnFailure(file, keylog);
      await expectAgreement(file, keylog);
      const analysis = await replayCli(["analyze", file, "--keylog", keylog, "--json"]);
      const [result] = analysis.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const model = await replayCli([
        "replay",
        file,
        "--keylog",
        keylog,
        "--model",
        "wireguard-go",
        "--json",
      ]);
      const ours = await replayCli(["replay", file, "--keylog", keylog, "--json"]);
      const outcome = (r: { stdout: string }) =>
        JSON.parse(r.stdout.trim().split("\n").at(-1)!).outcome;
      // Our engine never stalls on these arrivals.
      const evidence = JSON.stringify({ result, model: outcome(model), ours: outcome(ours) });
      expect(outcome(ours).stalled, evidence).toBe(false);
      expect(outcome(ours).errors).toEqual([]);
      // A crossing usually stalls real wireguard-go until its 5 s retry, whether both responses
      // were sent and ignored or one side failed to create its response (the seed's error); a
      // crossing may also resolve. Whatever the capture shows, the model of wireguard-go must agree.
      const crossing = result.collisions[0];
      const stalled = crossing !== undefined && (crossing.stallSeconds ?? Infinity) > 4.9;
      expect(outcome(model).stalled, evidence).toBe(stalled);
      if (!stalled) expect(result.timeToWorkingSeconds, evidence).toBeLessThan(1);
    } finally {
      await capture.stop().catch(() => undefined);
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);
});
