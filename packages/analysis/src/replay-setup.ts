/**
 * What a replay takes from the capture before it runs: each side's keys, which side the capture
 * was taken at and the one-way latency, when each message was sent and processed, and each side's
 * scripted randomness (the captured ephemeral keys, indices, timestamps and retry jitter).
 * Capture times are in seconds (frame.time_relative); the engines' clocks are in milliseconds.
 */
import {
  type CryptoBackend,
  decodeMessage,
  deterministicRandom,
  type Entropy,
  entropyFrom,
  generatePrivateKey,
  TAI64_LABEL_BASE,
} from "@wiregate/core";
import type { DecodedMessage } from "./decoded-message.js";
import type { KeyMaterial } from "./keys.js";

export type Side = "A" | "B";
export const other = (s: Side): Side => (s === "A" ? "B" : "A");

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

export interface Identities {
  keyMode: "captured" | "generated";
  privateOf: Record<Side, Uint8Array>;
  publicOf: Record<Side, Uint8Array>;
  psk: Uint8Array | undefined;
}

/** Both sides' static keys from the key log (probed by mac1), else generated ones. */
export function identities(
  captured: DecodedMessage[],
  sideOf: (m: DecodedMessage) => Side,
  keys: KeyMaterial | undefined,
  c: CryptoBackend,
): Identities {
  const publicOf: Partial<Record<Side, Uint8Array>> = {};
  for (const m of captured) {
    if (m.type === 1 && m.payload && keys) {
      const probed = keys.probeMac1(m.payload);
      if (probed) publicOf[other(sideOf(m))] = probed.publicKey;
    }
  }
  for (const s of ["A", "B"] as const) {
    if (publicOf[s] || !keys) continue;
    const peerPub = publicOf[other(s)];
    if (peerPub) {
      // The key log's other static key is this side's.
      for (const k of keys.statics.values())
        if (k.privateKey && !bytesEqual(k.publicKey, peerPub)) publicOf[s] = k.publicKey;
    }
  }
  let keyMode: Identities["keyMode"] = "generated";
  let privateOf: Record<Side, Uint8Array> | undefined;
  if (keys && publicOf.A && publicOf.B) {
    const a = keys.staticPrivate(publicOf.A);
    const b = keys.staticPrivate(publicOf.B);
    if (a && b) {
      privateOf = { A: a, B: b };
      keyMode = "captured";
    }
  }
  privateOf ??= {
    A: generatePrivateKey(deterministicRandom("replay A")),
    B: generatePrivateKey(deterministicRandom("replay B")),
  };
  let psk: Uint8Array | undefined;
  for (const e of keys?.ephemerals.values() ?? []) if (e.psks[0]) psk = e.psks[0];
  return {
    keyMode,
    privateOf,
    publicOf: { A: c.x25519Public(privateOf.A), B: c.x25519Public(privateOf.B) },
    psk,
  };
}

export interface Timing {
  captureSide: Side;
  /** One-way latency, seconds. */
  latencySeconds: number;
  /** When the message left its sender (capture seconds). */
  sendTime(m: DecodedMessage): number;
  /** When its receiver processes it (capture seconds). */
  processTime(m: DecodedMessage): number;
}

/**
 * The capture side and latency, from initiation → response gaps. The capture side's own messages
 * are captured when sent; the other side's on arrival, processed just before the capture side's
 * first reaction to them (so a crossing that happened in the real peer is re-enacted as one). The
 * capture side's initiations are processed just before the other side's response left, likewise.
 */
export function timing(captured: DecodedMessage[], sideOf: (m: DecodedMessage) => Side): Timing {
  const gaps: Record<Side, number[]> = { A: [], B: [] };
  const byFrame = new Map(captured.map((m) => [m.frame, m]));
  for (const m of captured) {
    if (m.type === 2 && m.responseTo !== undefined) {
      const init = byFrame.get(m.responseTo);
      if (init) gaps[sideOf(init)].push(m.time - init.time);
    }
  }
  const ga = median(gaps.A);
  const gb = median(gaps.B);
  let captureSide: Side;
  let d: number;
  if (ga !== undefined && gb !== undefined) {
    captureSide = ga >= gb ? "A" : "B";
    d = Math.max(50e-6, Math.abs(ga - gb) / 2);
  } else {
    const firstInit = captured.find((m) => m.type === 1);
    captureSide = firstInit ? sideOf(firstInit) : "A";
    d = Math.max(50e-6, (ga ?? gb ?? 0.0005) / 2);
  }
  // A response captured g after the capture side's initiation it answers went there and back in
  // g: the latency is at most half the fastest such gap (the median can be a loaded moment's).
  const fastest = Math.min(...gaps[captureSide]);
  if (Number.isFinite(fastest)) d = Math.min(d, fastest / 2);
  const firstTransportTo = new Map<number, DecodedMessage>();
  const responseTo = new Map<number, DecodedMessage>();
  for (const m of captured) {
    if (m.type === 4 && !firstTransportTo.has(m.receiver!)) firstTransportTo.set(m.receiver!, m);
    if (m.type === 2 && !responseTo.has(m.receiver!)) responseTo.set(m.receiver!, m);
  }
  /** The other side's first reaction to `m`: the response to an initiation, data on a response's keypair. */
  const reactionTo = (m: DecodedMessage): DecodedMessage | undefined => {
    let reaction: DecodedMessage | undefined;
    if (m.type === 1) reaction = responseTo.get(m.sender!);
    else if (m.type === 2) reaction = firstTransportTo.get(m.sender!);
    if (reaction && (reaction.time <= m.time || sideOf(reaction) === sideOf(m))) return undefined;
    return reaction;
  };
  const processAlone = (m: DecodedMessage): number => {
    const reaction = reactionTo(m);
    if (sideOf(m) !== captureSide) return reaction ? reaction.time - 1e-6 : m.time;
    // An initiation from the capture side: processed just before the response left, which on
    // a loaded machine (or in a crossing) can be long after one latency.
    if (m.type === 1 && reaction) return reaction.time - d - 1e-6;
    return m.time + d;
  };
  // Each direction is one queue: nothing is processed before what was sent ahead of it, except a
  // handshake message the capture shows was used. wireguard-go hands handshake messages to parallel
  // workers (RoutineHandshake, one per CPU) that take them in order but may finish them in any
  // order. A response is only valid while the initiation it answers is the handshake's state: a
  // used response was consumed before any initiation from the same peer that arrived ahead of it
  // and was consumed after it arrived (that one's reaction can come first all the same). Without
  // such evidence a message waits for those ahead of it (a response never used was consumed after
  // the initiation that overwrote the handshake).
  const arrival = (m: DecodedMessage) => (sideOf(m) === captureSide ? m.time + d : m.time);
  const processed = new Map<DecodedMessage, number>();
  const lastProcessed: Record<Side, number> = {
    A: Number.NEGATIVE_INFINITY,
    B: Number.NEGATIVE_INFINITY,
  };
  for (const m of captured) {
    const s = sideOf(m);
    let at = processAlone(m);
    const used = m.type !== 4 && reactionTo(m) !== undefined;
    if (used && m.type === 2) {
      for (const [earlier, when] of processed)
        if (earlier.type === 1 && sideOf(earlier) === s && when > arrival(m))
          at = Math.max(arrival(m), Math.min(at, when - 1e-6));
    }
    if (!used) at = Math.max(at, lastProcessed[s] + 1e-6);
    processed.set(m, at);
    lastProcessed[s] = Math.max(lastProcessed[s], at);
  }
  return {
    captureSide,
    latencySeconds: d,
    sendTime: (m) => (sideOf(m) === captureSide ? m.time : m.time - d),
    processTime: (m) => processed.get(m) ?? processAlone(m),
  };
}

/** Entropy that answers with the captured ephemeral keys and indices, in order. */
function scriptedEntropy(
  ephemerals: (Uint8Array | null)[],
  indices: number[],
  seed: string,
): Entropy {
  const fallback = entropyFrom(deterministicRandom(seed));
  let e = 0;
  let i = 0;
  return {
    ...fallback,
    ephemeral: () =>
      (e < ephemerals.length ? ephemerals[e++]?.slice() : undefined) ?? fallback.ephemeral(),
    index: () => (i < indices.length ? indices[i++]! : fallback.index()),
  };
}

export interface Script {
  entropy: Entropy;
  /** wireguard-go's retransmit jitter (ms) between the captured initiations, in order. */
  jitters: number[];
  /** The captured initiations' timestamps in order, then the capture's clock (ns). */
  wallClock(nowMs: number): bigint;
}

/** One side's randomness and wall clock as the capture shows them. */
export function script(
  side: Side,
  captured: DecodedMessage[],
  sideOf: (m: DecodedMessage) => Side,
  sendTime: (m: DecodedMessage) => number,
  keys: KeyMaterial | undefined,
  seed: string,
): Script {
  const mine = captured.filter((m) => sideOf(m) === side && (m.type === 1 || m.type === 2));
  const ephemerals = mine.map((m) => {
    const decoded = m.payload && keys ? decodeMessage(m.payload) : undefined;
    const message = decoded?.ok ? decoded.message : undefined;
    if (!message || (message.type !== 1 && message.type !== 2)) return null;
    return keys!.ephemeral(message.ephemeral)?.privateKey ?? null;
  });
  const indices = mine.map((m) => m.sender!);
  const inits = mine.filter((m) => m.type === 1);
  const stamps = inits.map((m) => m.timestamp);
  const jitters: number[] = [];
  for (let i = 1; i < inits.length; i++) {
    const j = Math.round((sendTime(inits[i]!) - sendTime(inits[i - 1]!)) * 1000 - 5000);
    if (j >= 0 && j <= 333) jitters.push(j);
  }
  const base = captured[0]!.timestampNs;
  let k = 0;
  return {
    entropy: scriptedEntropy(ephemerals, indices, seed),
    jitters,
    wallClock: (nowMs) => {
      const t = stamps[k++];
      if (t) return (t.tai64Label - TAI64_LABEL_BASE) * 1_000_000_000n + BigInt(t.nanoseconds);
      return base + BigInt(Math.round(nowMs * 1e6));
    },
  };
}
