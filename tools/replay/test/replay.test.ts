import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CAPTURES, runCli } from "./helpers.js";

const STALL = `${CAPTURES}/collision-stall/sim-nopsk-retry-run02.pcapng`;
const STALL_KEYS = `${CAPTURES}/collision-stall/keylog.txt`;
// Two wireguard-go peers on a loaded machine: B answered the first initiation 5.8 ms after it was
// captured (it had started its own meanwhile), the retry 0.45 ms after; then data flowed.
const LOADED = fileURLToPath(new URL("fixtures/loaded-collision.pcapng", import.meta.url));
const LOADED_KEYS = fileURLToPath(new URL("fixtures/loaded-collision.keylog", import.meta.url));
// Another crossing on a loaded machine, captured at B: B's initiation, then its response to A's,
// reached A. A's answer to B's initiation left 10.6 ms later, just before A's data on the
// response's keypair: A had consumed the response before the initiation, so one of the crossed
// handshakes completed and data flowed after 15 ms.
const USED = fileURLToPath(new URL("fixtures/loaded-crossing-used.pcapng", import.meta.url));
const USED_KEYS = fileURLToPath(new URL("fixtures/loaded-crossing-used.keylog", import.meta.url));

function outcome(stdout: string) {
  const last = stdout.trim().split("\n").at(-1)!;
  return JSON.parse(last).outcome as {
    stalled: boolean;
    stallSeconds: number;
    notReproduced: number[];
    errors: string[];
    keyMode: string;
  };
}

describe("replay", () => {
  it("--model wireguard-go reproduces the ~5 s stall of collision-stall", async () => {
    const r = await runCli([
      "replay",
      STALL,
      "--keylog",
      STALL_KEYS,
      "--model",
      "wireguard-go",
      "--json",
      "-c",
      "40",
    ]);
    expect(r.code).toBe(0);
    const o = outcome(r.stdout);
    expect(o.keyMode).toBe("captured");
    expect(o.stalled).toBe(true);
    expect(o.stallSeconds).toBeGreaterThan(5);
    expect(o.stallSeconds).toBeLessThan(5.5);
    const text = await runCli([
      "replay",
      STALL,
      "--keylog",
      STALL_KEYS,
      "--model",
      "wireguard-go",
      "-c",
      "40",
    ]);
    // Both crossed responses are dropped, as both wireguard-go logs say.
    expect(text.stdout.match(/Received invalid response message/g)).toHaveLength(2);
    expect(text.stdout).toMatch(/retrying \(try 2\)/);
  });

  it("our engine (default model) shows no stall on the same arrivals", async () => {
    const r = await runCli(["replay", STALL, "--keylog", STALL_KEYS, "--json", "-c", "40"]);
    expect(r.code).toBe(0);
    const o = outcome(r.stdout);
    expect(o.stalled).toBe(false);
    expect(o.stallSeconds).toBeLessThan(0.01);
    expect(o.errors).toEqual([]);
  });

  it("re-enacts a crossing whose latencies varied tenfold: the stall, and the retry that ended it", async () => {
    const args = ["replay", LOADED, "--keylog", LOADED_KEYS, "-c", "40"];
    const model = await runCli([...args, "--model", "wireguard-go"]);
    expect(model.code).toBe(0);
    // The latency is bounded by the retry's 0.45 ms answer, not the crossing's 5.8 ms.
    expect(model.stdout).toMatch(/one-way latency 0\.2\d\d ms/);
    // Each side took the other's initiation after sending its own, so both responses were
    // dropped; A's retry ended the stall, and B's data left only after B had the keypair.
    expect(model.stdout.match(/Received invalid response message/g)).toHaveLength(2);
    expect(model.stdout).toMatch(/A: Handshake did not complete after 5 seconds, retrying/);
    expect(model.stdout).not.toMatch(/B: Handshake did not complete/);
    const json = outcome((await runCli([...args, "--model", "wireguard-go", "--json"])).stdout);
    expect(json.stalled).toBe(true);
    expect(json.stallSeconds).toBeCloseTo(5.13, 2);
    const ours = outcome((await runCli([...args, "--json"])).stdout);
    expect(ours.stalled).toBe(false);
    expect(ours.errors).toEqual([]);
  });

  it("re-enacts a crossing whose later response was used before the earlier initiation was answered", async () => {
    const args = ["replay", USED, "--keylog", USED_KEYS, "-c", "20"];
    const model = await runCli([...args, "--model", "wireguard-go"]);
    expect(model.code).toBe(0);
    // wireguard-go's parallel handshake workers finished A's work in the order the capture shows:
    // the response first (a keypair, data), then B's initiation, whose response B drops.
    const lines = model.stdout.split("\n");
    const received = lines.findIndex((l) => l.includes("A: Received handshake response"));
    const initiation = lines.findIndex((l) => l.includes("A: Received handshake initiation"));
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(initiation);
    expect(model.stdout.match(/Received invalid response message/g)).toHaveLength(1);
    expect(model.stdout).not.toMatch(/Handshake did not complete/);
    const first = outcome((await runCli([...args, "--model", "wireguard-go", "--json"])).stdout);
    expect(first.notReproduced).toEqual([]);
    // The whole capture: data both ways after about 20 ms, as the capture shows, not after a retry.
    const whole = ["replay", USED, "--keylog", USED_KEYS, "--json"];
    const json = outcome((await runCli([...whole, "--model", "wireguard-go"])).stdout);
    expect(json.stalled).toBe(false);
    expect(json.stallSeconds).toBeLessThan(0.1);
    expect(json.errors).toEqual([]);
    const ours = outcome((await runCli(whole)).stdout);
    expect(ours.stalled).toBe(false);
    expect(ours.errors).toEqual([]);
  });

  it("with a full key log the engines regenerate the captured messages byte for byte", async () => {
    for (const model of ["wiregate", "wireguard-go"]) {
      const r = await runCli([
        "replay",
        `${CAPTURES}/normal-fulldecrypt/full-normal.pcapng`,
        "--keylog",
        `${CAPTURES}/normal-fulldecrypt/keylog-full.txt`,
        "--model",
        model,
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/messages: 9 captured messages regenerated and consumed/);
      expect(r.stdout).toContain("captured frame 2: regenerated byte for byte");
    }
  });

  it("without keys the engines exchange their own messages on the captured schedule", async () => {
    const r = await runCli(["replay", `${CAPTURES}/psk/psk.pcap`, "--model", "wireguard-go"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("generated keys");
    expect(r.stdout).toMatch(
      /0 captured messages regenerated and consumed, 9 own messages on the captured schedule/,
    );
  });
});
