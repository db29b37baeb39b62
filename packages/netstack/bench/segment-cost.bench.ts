/**
 * CPU per segment of a bulk transfer between two stacks polled by hand (no loss, no timers): what
 * building, checksumming, parsing and acknowledging a segment costs, both ends together. Process
 * CPU time (user + system), not wall time, so other work on the machine weighs less. With
 * BENCH_BASELINE_DIST (another build's packages/netstack/dist) that build's Stack runs the same
 * transfer in alternating rounds, and each round prints this build's CPU per segment ÷ its.
 */
import { join } from "node:path";
import { deterministicRandom } from "@wiregate/core";
import { it } from "vitest";
import { Stack } from "../src/stack.js";

const BYTES = Number(process.env.BENCH_BYTES ?? 20_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BASELINE_DIST = process.env.BENCH_BASELINE_DIST;

/** CPU µs per data segment for `bytes` from one stack to the other. */
function transfer(StackClass: typeof Stack, bytes: number): number {
  const a = new StackClass({ addresses: ["10.0.0.1"], random: deterministicRandom("a") });
  const b = new StackClass({ addresses: ["10.0.0.2"], random: deterministicRandom("b") });
  b.listen(80);
  let now = 0;
  const client = a.connect(now, { host: "10.0.0.2", port: 80 });
  const chunk = new Uint8Array(65536).fill(7);
  let written = 0;
  let received = 0;
  let segments = 0;
  const pump = () => {
    while (written < bytes) {
      const n = client.write(chunk.subarray(0, Math.min(chunk.length, bytes - written)));
      if (n === 0) return;
      written += n;
    }
  };
  pump();
  const start = process.cpuUsage();
  let inFlight: [Stack, Uint8Array][] = [];
  while (received < bytes) {
    now += 0.5;
    for (const [stack, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      const out = stack.poll(now);
      for (const e of out.events) {
        if (e.type === "tcp-readable" && stack === b) received += e.socket.read().length;
        if (e.type === "tcp-writable" && stack === a) pump();
      }
      for (const p of out.packets) inFlight.push([peer, p]);
      if (stack === a) segments += out.packets.length;
    }
    const due = inFlight;
    inFlight = [];
    for (const [to, p] of due) to.receive(now, p);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / segments;
}

it("CPU per segment of a bulk transfer, this build and (BENCH_BASELINE_DIST) another", async () => {
  const baseline = BASELINE_DIST
    ? ((await import(join(BASELINE_DIST, "index.js"))) as { Stack: typeof Stack }).Stack
    : undefined;
  transfer(Stack, 2_000_000); // warm-up
  if (baseline) transfer(baseline, 2_000_000);
  const ratios: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const ours = transfer(Stack, BYTES);
    const theirs = baseline ? transfer(baseline, BYTES) : undefined;
    if (theirs !== undefined) ratios.push(ours / theirs);
    console.log(
      `round ${round}: ${ours.toFixed(2)} µs per segment` +
        (theirs === undefined
          ? ""
          : `, baseline ${theirs.toFixed(2)}, ratio ${(ours / theirs).toFixed(2)}×`),
    );
  }
  if (ratios.length > 0) {
    ratios.sort((x, y) => x - y);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    console.log(
      `this build ÷ baseline, CPU per segment: median ${median.toFixed(2)}×, range ${ratios[0]!.toFixed(2)}–${ratios[ratios.length - 1]!.toFixed(2)}× (lower is better)`,
    );
  }
});
