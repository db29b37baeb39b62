/**
 * Interleavings of wireguard-go's parallel handshake workers for a crossing initiation: peer A has
 * sent an initiation; B's own initiation and B's response to A's arrive together and two
 * RoutineHandshake goroutines process them at once, each taking the per-peer lock separately for
 * consume, create and begin-session. Every merge of the two step sequences is run from scratch.
 * The same enumeration over our Device has only the two delivery orders (each receive is atomic).
 */
import {
  type CryptoBackend,
  Device,
  deterministicRandom,
  entropyFrom,
  generatePrivateKey,
  nobleCrypto,
  type UdpEndpoint,
} from "@wiregate/core";
import { type JobStep, WireGuardGoPeer } from "./wireguard-go-peer.js";

export interface Interleaving {
  /** Step names in execution order, e.g. ["R1", "I1", "I2", "R2", "I3", "I4", "R3"]. */
  order: string[];
  /** Error-level log lines. */
  errors: string[];
  /** A's handshake state and keypairs afterwards. */
  finalState: string;
  hasCurrentKeypair: boolean;
}

export interface InterleavingReport {
  engine: "wireguard-go" | "wiregate";
  steps: Record<string, string>;
  interleavings: Interleaving[];
  /** For each distinct error message, the interleavings that produce it. */
  byError: Map<string, string[][]>;
}

function merges(a: number, b: number): ("I" | "R")[][] {
  if (a === 0) return [Array(b).fill("R")];
  if (b === 0) return [Array(a).fill("I")];
  return [
    ...merges(a - 1, b).map((m) => ["I" as const, ...m]),
    ...merges(a, b - 1).map((m) => ["R" as const, ...m]),
  ];
}

const KEY_A = generatePrivateKey(deterministicRandom("interleave A static"));
const KEY_B = generatePrivateKey(deterministicRandom("interleave B static"));
const WALL = (now: number) => 1_800_000_000_000_000_000n + BigInt(Math.round(now * 1e6));

function goPair(c: CryptoBackend) {
  const pubA = c.x25519Public(KEY_A);
  const pubB = c.x25519Public(KEY_B);
  const a = new WireGuardGoPeer({
    name: "A",
    privateKey: KEY_A,
    peerPublicKey: pubB,
    entropy: entropyFrom(deterministicRandom("A")),
    wallClock: WALL,
    crypto: c,
  });
  const b = new WireGuardGoPeer({
    name: "B",
    privateKey: KEY_B,
    peerPublicKey: pubA,
    entropy: entropyFrom(deterministicRandom("B")),
    wallClock: WALL,
    crypto: c,
  });
  return { a, b };
}

/** All interleavings of the initiation worker and the response worker at A (wireguard-go model). */
export function enumerateWireGuardGoCrossing(c: CryptoBackend = nobleCrypto): InterleavingReport {
  // Messages: A's initiation, B's crossing initiation, and B's response to A's initiation.
  const proto = goPair(c);
  proto.a.setTime(0);
  proto.a.sendHandshakeInitiation(false);
  const [initA] = proto.a.take().datagrams;
  proto.b.setTime(0);
  proto.b.sendHandshakeInitiation(false);
  const [initB] = proto.b.take().datagrams;
  proto.b.receive(1, initA!);
  const [responseB] = proto.b.take().datagrams;
  const stepsNamed: Record<string, string> = {};
  const report: InterleavingReport = {
    engine: "wireguard-go",
    steps: stepsNamed,
    interleavings: [],
    byError: new Map(),
  };
  const template = goPair(c);
  const iSteps = template.a.initiationJob(initB!).steps;
  const rSteps = template.a.responseJob(responseB!).steps;
  iSteps.forEach((s, i) => {
    stepsNamed[`I${i + 1}`] = `initiation worker: ${s.label}`;
  });
  rSteps.forEach((s, i) => {
    stepsNamed[`R${i + 1}`] = `response worker: ${s.label}`;
  });
  for (const merge of merges(iSteps.length, rSteps.length)) {
    // Fresh A in the same state: it sent the same initiation (deterministic randomness).
    const { a } = goPair(c);
    a.setTime(0);
    a.sendHandshakeInitiation(false);
    a.take();
    a.setTime(2);
    const ijob = a.initiationJob(initB!).steps;
    const rjob = a.responseJob(responseB!).steps;
    let i = 0;
    let r = 0;
    const order: string[] = [];
    for (const which of merge) {
      const step: JobStep = which === "I" ? ijob[i++]! : rjob[r++]!;
      order.push(`${which}${which === "I" ? i : r}`);
      step.run();
    }
    const errors = a.log.filter((l) => l.level === "error").map((l) => l.text.replace(/^A: /, ""));
    report.interleavings.push({
      order,
      errors,
      finalState: a.state,
      hasCurrentKeypair: a.current !== null,
    });
    for (const e of errors) {
      const key = e.replace(
        /: (Zeroed|InitiationCreated|InitiationConsumed|ResponseCreated|ResponseConsumed)$/,
        "",
      );
      const list = report.byError.get(key) ?? [];
      list.push(order);
      report.byError.set(key, list);
    }
  }
  return report;
}

/** The same situation with our engine: both delivery orders of B's initiation and response at A. */
export function enumerateWiregateCrossing(c: CryptoBackend = nobleCrypto): InterleavingReport {
  const report: InterleavingReport = {
    engine: "wiregate",
    steps: {
      I: "Device.receive(B's initiation)",
      R: "Device.receive(B's response to A's initiation)",
    },
    interleavings: [],
    byError: new Map(),
  };
  const epA: UdpEndpoint = { address: "10.0.0.1", port: 51820 };
  const epB: UdpEndpoint = { address: "10.0.0.2", port: 51821 };
  const make = () => {
    const a = new Device({
      privateKey: KEY_A,
      random: deterministicRandom("dA"),
      wallClock: () => WALL(0),
      crypto: c,
    });
    const b = new Device({
      privateKey: KEY_B,
      random: deterministicRandom("dB"),
      wallClock: () => WALL(0),
      crypto: c,
    });
    a.addPeer(0, { publicKey: b.publicKey, endpoint: epB, allowedIps: ["10.9.0.2/32"] });
    b.addPeer(0, { publicKey: a.publicKey, endpoint: epA, allowedIps: ["10.9.0.1/32"] });
    return { a, b };
  };
  for (const order of [
    ["I", "R"],
    ["R", "I"],
  ]) {
    const { a, b } = make();
    const initA = a.initiateHandshake(0, b.publicKey).datagrams[0]!.data;
    const initB = b.initiateHandshake(0, a.publicKey).datagrams[0]!.data;
    const responseB = b.receive(1, initA, epA).datagrams[0]!.data;
    const events = [];
    for (const which of order) {
      events.push(...a.receive(2, which === "I" ? initB : responseB, epB).events);
    }
    const errors = events
      .filter((e) => e.level === "error" || e.level === "warn")
      .map((e) => `${e.kind}: ${e.reason ?? ""}`);
    report.interleavings.push({
      order,
      errors,
      finalState: a.peerStatus(b.publicKey)!.handshake,
      hasCurrentKeypair: a.currentKeypair(b.publicKey) !== undefined,
    });
    for (const e of errors) report.byError.set(e, [...(report.byError.get(e) ?? []), order]);
  }
  return report;
}

export function renderInterleavings(report: InterleavingReport): string {
  const lines = [`${report.engine}: ${report.interleavings.length} interleavings`];
  for (const [name, label] of Object.entries(report.steps)) lines.push(`  ${name} = ${label}`);
  for (const [error, orders] of report.byError) {
    lines.push(`  "${error}": ${orders.length} interleaving(s), e.g. ${orders[0]!.join(" ")}`);
  }
  if (report.byError.size === 0) lines.push("  no errors in any interleaving");
  return lines.join("\n");
}
