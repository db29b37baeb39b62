/**
 * Replay: re-enact a captured conversation through two engines in virtual time. The capture gives
 * the schedule (when each side's application sent data, when each message arrived); the engines —
 * our Device (`wiregate`) or the wireguard-go model — decide what to send. Each message an engine
 * sends is matched to the captured message it corresponds to (by indices, else by type and time)
 * and delivered on the captured schedule; with the key log's ephemeral keys the engines regenerate
 * the captured bytes exactly, so the captured messages themselves are consumed and verified.
 *
 * Timing: the capture was taken at one peer (the "capture side"): its own messages are captured
 * when sent and reach the other side one latency later; the other side's messages are captured on
 * arrival and processed just before the capture side's first reaction to them (so a crossing that
 * happened in the real peer is re-enacted as a crossing).
 */
import {
  type CryptoBackend,
  Device,
  deterministicRandom,
  type Entropy,
  entropyFrom,
  generatePrivateKey,
  nobleCrypto,
  type Output,
  type UdpEndpoint,
} from "@wiregate/core";
import { type DecodedMessage, hex32, TYPE_NAMES } from "./decode.js";
import type { KeyMaterial } from "./keys.js";
import { WireGuardGoPeer } from "./wireguard-go-model.js";

export type ReplayModel = "wiregate" | "wireguard-go";
type Side = "A" | "B";

export interface ReplayOptions {
  model: ReplayModel;
  keys?: KeyMaterial;
  crypto?: CryptoBackend;
  /** Virtual seconds to keep running after the last captured message (default 1). */
  tailSeconds?: number;
}

export interface ReplayedMessage {
  sentAt: number;
  deliveredAt: number;
  from: Side;
  type: number;
  summary: string;
  /** How the message reached the other engine. */
  how: "captured" | "own-on-schedule" | "own";
  frame?: number;
}

export interface ReplayResult {
  model: ReplayModel;
  keyMode: "captured" | "generated";
  peers: Record<Side, string>;
  captureSide: Side;
  latencyMs: number;
  lines: { time: number; text: string }[];
  messages: ReplayedMessage[];
  /** Captured frames no engine message corresponded to. */
  notReproduced: number[];
  firstActivity?: number;
  bothWaysAt?: number;
  stallSeconds?: number;
  stalled: boolean;
  errors: string[];
}

interface Engine {
  send(now: number, packet: Uint8Array): void;
  initiate(now: number): void;
  receive(now: number, bytes: Uint8Array): void;
  tick(now: number): void;
  deadline(): number | undefined;
  take(): { datagrams: Uint8Array[]; lines: string[]; errors: string[] };
  received(): number;
}

const EP: Record<Side, UdpEndpoint> = {
  A: { address: "192.0.2.1", port: 51820 },
  B: { address: "192.0.2.2", port: 51820 },
};

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
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

function syntheticPacket(src: number, dst: number, length: number): Uint8Array {
  const total = Math.max(28, length);
  const p = new Uint8Array(total);
  p[0] = 0x45;
  p[2] = total >> 8;
  p[3] = total & 0xff;
  p[8] = 64;
  p[9] = 1;
  p.set([10, 99, 0, src], 12);
  p.set([10, 99, 0, dst], 16);
  p[20] = 8; // ICMP echo request
  return p;
}

export function replayCapture(all: DecodedMessage[], options: ReplayOptions): ReplayResult {
  const c = options.crypto ?? options.keys?.crypto ?? nobleCrypto;
  const first = all[0];
  const result: ReplayResult = {
    model: options.model,
    keyMode: "generated",
    peers: { A: first?.src ?? "?", B: first?.dst ?? "?" },
    captureSide: "A",
    latencyMs: 0,
    lines: [],
    messages: [],
    notReproduced: [],
    stalled: false,
    errors: [],
  };
  if (!first) return result;
  const captured = all.filter(
    (m) =>
      (m.src === result.peers.A && m.dst === result.peers.B) ||
      (m.src === result.peers.B && m.dst === result.peers.A),
  );
  const sideOf = (m: DecodedMessage): Side => (m.src === result.peers.A ? "A" : "B");
  const other = (s: Side): Side => (s === "A" ? "B" : "A");

  // ---- identities and keys
  const publicOf: Partial<Record<Side, Uint8Array>> = {};
  const keys = options.keys;
  for (const m of captured) {
    if (m.type === 1 && m.payload && keys) {
      const probed = keys.probeMac1(m.payload);
      if (probed) publicOf[other(sideOf(m))] = probed.publicKey;
    }
  }
  for (const s of ["A", "B"] as const) {
    if (publicOf[s] || !keys) continue;
    const o = other(s);
    const peerPub = publicOf[o];
    if (peerPub) {
      // The key log's other static key is this side's.
      for (const k of keys.statics.values())
        if (k.privateKey && !bytesEqual(k.publicKey, peerPub)) publicOf[s] = k.publicKey;
    }
  }
  const privateOf: Partial<Record<Side, Uint8Array>> = {};
  if (keys && publicOf.A && publicOf.B) {
    const a = keys.staticPrivate(publicOf.A);
    const b = keys.staticPrivate(publicOf.B);
    if (a && b) {
      privateOf.A = a;
      privateOf.B = b;
      result.keyMode = "captured";
    }
  }
  if (result.keyMode === "generated") {
    privateOf.A = generatePrivateKey(deterministicRandom("replay A"));
    privateOf.B = generatePrivateKey(deterministicRandom("replay B"));
  }
  let psk: Uint8Array | undefined;
  for (const e of keys?.ephemerals.values() ?? []) if (e.psks[0]) psk = e.psks[0];

  // ---- capture side and latency, from initiation → response gaps
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
  let d: number;
  if (ga !== undefined && gb !== undefined) {
    result.captureSide = ga >= gb ? "A" : "B";
    d = Math.max(50e-6, Math.abs(ga - gb) / 2);
  } else {
    const firstInit = captured.find((m) => m.type === 1);
    result.captureSide = firstInit ? sideOf(firstInit) : "A";
    d = Math.max(50e-6, (ga ?? gb ?? 0.0005) / 2);
  }
  result.latencyMs = d * 1000;
  const C = result.captureSide;
  const sendTime = (m: DecodedMessage) => (sideOf(m) === C ? m.time : m.time - d);
  // Processing time at the receiver.
  const firstTransportTo = new Map<number, DecodedMessage>();
  const responseTo = new Map<number, DecodedMessage>();
  for (const m of captured) {
    if (m.type === 4 && !firstTransportTo.has(m.receiver!)) firstTransportTo.set(m.receiver!, m);
    if (m.type === 2 && !responseTo.has(m.receiver!)) responseTo.set(m.receiver!, m);
  }
  const processTime = (m: DecodedMessage): number => {
    if (sideOf(m) === C) return m.time + d;
    let reaction: DecodedMessage | undefined;
    if (m.type === 1) reaction = responseTo.get(m.sender!);
    else if (m.type === 2) reaction = firstTransportTo.get(m.sender!);
    if (reaction && reaction.time > m.time && sideOf(reaction) === C) return reaction.time - 1e-6;
    return m.time;
  };

  // ---- scripted randomness per side: the captured ephemeral keys, indices, timestamps, retries
  const script = (s: Side) => {
    const mine = captured.filter((m) => sideOf(m) === s && (m.type === 1 || m.type === 2));
    const ephemerals = mine.map((m) =>
      m.payload && keys
        ? (keys.ephemeral(m.payload.subarray(m.type === 1 ? 8 : 12, m.type === 1 ? 40 : 44))
            ?.privateKey ?? null)
        : null,
    );
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
    const wallClock = (now: number): bigint => {
      const t = stamps[k++];
      if (t) return (t.tai64Label - (1n << 62n) - 10n) * 1_000_000_000n + BigInt(t.nanoseconds);
      return base + BigInt(Math.round(now * 1e6));
    };
    return {
      entropy: scriptedEntropy(ephemerals, indices, `replay ${s} ${options.model}`),
      jitters,
      wallClock,
    };
  };

  // ---- engines
  const engines = {} as Record<Side, Engine>;
  let virtualNow = 0;
  for (const s of ["A", "B"] as const) {
    const sc = script(s);
    const peerPublic = c.x25519Public(privateOf[other(s)]!);
    if (options.model === "wireguard-go") {
      const jitterFallback = deterministicRandom(`jitter ${s}`);
      const peer = new WireGuardGoPeer({
        name: s,
        privateKey: privateOf[s]!,
        peerPublicKey: peerPublic,
        presharedKey: psk,
        entropy: sc.entropy,
        retransmitJitter: () =>
          sc.jitters.shift() ?? (jitterFallback(2)[0]! | (jitterFallback(2)[1]! << 8)) % 334,
        wallClock: (now) => sc.wallClock(now),
        crypto: c,
      });
      let logged = 0;
      engines[s] = {
        send: (now, p) => peer.send(now * 1000, p),
        initiate: (now) => {
          peer.setTime(now * 1000);
          peer.sendHandshakeInitiation(false);
        },
        receive: (now, b) => peer.receive(now * 1000, b),
        tick: (now) => peer.tick(now * 1000),
        deadline: () => {
          const t = peer.deadline();
          return t === undefined ? undefined : t / 1000;
        },
        take: () => {
          const { datagrams } = peer.take();
          const fresh = peer.log.slice(logged);
          logged = peer.log.length;
          return {
            datagrams,
            lines: fresh.map((l) => `${l.level === "error" ? "ERROR " : ""}${l.text}`),
            errors: fresh.filter((l) => l.level === "error").map((l) => l.text),
          };
        },
        received: () => peer.received,
      };
    } else {
      const device = new Device({
        privateKey: privateOf[s]!,
        entropy: sc.entropy,
        wallClock: () => sc.wallClock(virtualNow * 1000),
        crypto: c,
      });
      device.addPeer(0, {
        publicKey: peerPublic,
        presharedKey: psk,
        endpoint: EP[other(s)],
        allowedIps: ["0.0.0.0/0", "::/0"],
      });
      let pending: Output[] = [];
      engines[s] = {
        send: (now, p) => pending.push(device.send(now * 1000, p)),
        initiate: (now) => pending.push(device.initiateHandshake(now * 1000, peerPublic)),
        receive: (now, b) => pending.push(device.receive(now * 1000, b, EP[other(s)])),
        tick: (now) => pending.push(device.tick(now * 1000)),
        deadline: () => {
          const t = pending.at(-1)?.deadline ?? lastDeadline;
          return t === undefined ? undefined : t / 1000;
        },
        take: () => {
          const outs = pending;
          pending = [];
          if (outs.length) lastDeadline = outs.at(-1)!.deadline;
          const events = outs.flatMap((o) => o.events);
          return {
            datagrams: outs.flatMap((o) => o.datagrams.map((dg) => dg.data)),
            lines: events
              .filter((e) => e.kind !== "peer-added")
              .map(
                (e) =>
                  `${s}: ${e.kind}${e.localIndex !== undefined ? ` local ${hex32(e.localIndex)}` : ""}${e.remoteIndex !== undefined ? ` remote ${hex32(e.remoteIndex)}` : ""}${e.from ? ` ${e.from}→${e.to ?? ""}` : e.to ? ` →${e.to}` : ""}${e.reason ? ` (${e.reason})` : ""}${e.level === "error" || e.level === "warn" ? ` [${e.level}]` : ""}`,
              ),
            errors: events
              .filter((e) => e.level === "error")
              .map((e) => `${s}: ${e.kind} ${e.reason ?? ""}`),
          };
        },
        received: () => device.peerStatus(peerPublic)?.rxBytes ?? 0,
      };
      let lastDeadline: number | undefined;
    }
  }

  // ---- stimuli: each side's application data, the first moved to its first initiation
  type Event =
    | { at: number; kind: "send"; side: Side; packet: Uint8Array; seq: number }
    | { at: number; kind: "initiate"; side: Side; seq: number }
    | { at: number; kind: "deliver"; side: Side; bytes: Uint8Array; seq: number };
  const queue: Event[] = [];
  let seq = 0;
  const push = (e: Event) => {
    let i = queue.length;
    while (
      i > 0 &&
      (queue[i - 1]!.at > e.at || (queue[i - 1]!.at === e.at && queue[i - 1]!.seq > e.seq))
    )
      i--;
    queue.splice(i, 0, e);
  };
  for (const s of ["A", "B"] as const) {
    const dataFrom = captured.filter((m) => sideOf(m) === s && m.type === 4 && !m.keepalive);
    const firstInit = captured.find((m) => sideOf(m) === s && m.type === 1);
    const tunnel = s === "A" ? 1 : 2;
    const packetOf = (m: DecodedMessage) =>
      m.plaintext ?? syntheticPacket(tunnel, 3 - tunnel, m.length - 32);
    let start = 0;
    if (firstInit && (!dataFrom[0] || dataFrom[0].time > firstInit.time)) {
      if (dataFrom[0]) {
        push({
          at: sendTime(firstInit),
          kind: "send",
          side: s,
          packet: packetOf(dataFrom[0]),
          seq: seq++,
        });
        start = 1;
      } else push({ at: sendTime(firstInit), kind: "initiate", side: s, seq: seq++ });
    }
    for (const m of dataFrom.slice(start))
      push({ at: sendTime(m), kind: "send", side: s, packet: packetOf(m), seq: seq++ });
  }

  // ---- the run
  const matched = new Set<DecodedMessage>();
  const findCaptured = (from: Side, bytes: Uint8Array, now: number): DecodedMessage | undefined => {
    const type = bytes[0]!;
    const candidates = captured.filter(
      (m) => !matched.has(m) && sideOf(m) === from && m.type === type,
    );
    const byIndex = candidates.find((m) => {
      if (type === 1 || type === 2) return m.sender === u32(bytes, 4);
      if (type === 3) return m.receiver === u32(bytes, 4);
      return (
        m.receiver === u32(bytes, 4) &&
        m.counter === new DataView(bytes.buffer, bytes.byteOffset + 8, 8).getBigUint64(0, true)
      );
    });
    if (byIndex) return byIndex;
    if (type === 4) return undefined;
    return candidates.find((m) => Math.abs(sendTime(m) - now) < 1);
  };
  const collect = (s: Side, now: number) => {
    const { datagrams, lines, errors } = engines[s].take();
    for (const l of lines) result.lines.push({ time: now, text: l });
    result.errors.push(...errors);
    for (const bytes of datagrams) {
      const m = findCaptured(s, bytes, now);
      let how: ReplayedMessage["how"] = "own";
      let at = now + d;
      let deliver = bytes;
      if (m) {
        matched.add(m);
        at = Math.max(now, processTime(m));
        if (m.payload && bytesEqual(m.payload, bytes)) {
          how = "captured";
          deliver = m.payload;
        } else how = "own-on-schedule";
      }
      const type = bytes[0]!;
      const summary = `${TYPE_NAMES[type as 1 | 2 | 3 | 4]}${type === 4 ? (bytes.length === 32 ? " (keepalive)" : ` (${bytes.length} bytes)`) : ""}${type === 1 || type === 2 ? ` sender ${hex32(u32(bytes, 4))}` : ""}${type >= 2 ? ` receiver ${hex32(u32(bytes, type === 2 ? 8 : 4))}` : ""}`;
      const entry: ReplayedMessage = { sentAt: now, deliveredAt: at, from: s, type, summary, how };
      if (m) entry.frame = m.frame;
      result.messages.push(entry);
      push({ at, kind: "deliver", side: other(s), bytes: deliver, seq: seq++ });
    }
  };
  const end = (captured.at(-1)?.time ?? 0) + (options.tailSeconds ?? 1);
  let rxA = 0;
  let rxB = 0;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const deadlines = (["A", "B"] as const).map((s) => ({ s, t: engines[s].deadline() }));
    const nextEvent = queue[0];
    let tickSide: Side | undefined;
    let at = nextEvent?.at ?? Number.POSITIVE_INFINITY;
    for (const { s, t } of deadlines) {
      if (t !== undefined && t < at) {
        at = t;
        tickSide = s;
      }
    }
    if (at > end) break;
    virtualNow = at;
    if (tickSide) {
      engines[tickSide].tick(at);
      collect(tickSide, at);
    } else {
      const e = queue.shift()!;
      result.firstActivity ??= e.at;
      if (e.kind === "send") engines[e.side].send(at, e.packet);
      else if (e.kind === "initiate") engines[e.side].initiate(at);
      else engines[e.side].receive(at, e.bytes);
      collect(e.side, at);
      if (e.kind === "deliver") {
        rxA = engines.A.received();
        rxB = engines.B.received();
        if (result.bothWaysAt === undefined && rxA > 0 && rxB > 0) result.bothWaysAt = at;
      }
    }
  }
  result.notReproduced = captured.filter((m) => !matched.has(m)).map((m) => m.frame);
  if (result.bothWaysAt !== undefined && result.firstActivity !== undefined) {
    result.stallSeconds = result.bothWaysAt - result.firstActivity;
    result.stalled = result.stallSeconds > 1;
  }
  return result;
}

export function renderReplay(r: ReplayResult): string {
  const out: string[] = [];
  out.push(
    `replay with ${r.model === "wiregate" ? "our engine (wiregate Device)" : "the wireguard-go model"}: A ${r.peers.A} ⇄ B ${r.peers.B}; ${r.keyMode === "captured" ? "static keys from the key log" : "generated keys (no key log for both peers): the engines exchange their own messages"}; captured at ${r.captureSide}, one-way latency ${r.latencyMs.toFixed(3)} ms`,
  );
  const lines = [...r.lines.map((l) => ({ t: l.time, text: `  ${l.text}` }))];
  for (const m of r.messages) {
    const how =
      m.how === "captured"
        ? `captured frame ${m.frame}: regenerated byte for byte and consumed by ${m.from === "A" ? "B" : "A"}`
        : m.how === "own-on-schedule"
          ? `own bytes on the schedule of captured frame ${m.frame}`
          : "own message (not in the capture)";
    lines.push({
      t: m.sentAt,
      text: `  ${m.from}→${m.from === "A" ? "B" : "A"} ${m.summary}, delivered at ${m.deliveredAt.toFixed(6)}: ${how}`,
    });
  }
  lines.sort((x, y) => x.t - y.t);
  for (const l of lines) out.push(`${l.t.toFixed(6).padStart(11)}${l.text}`);
  const counts = { captured: 0, "own-on-schedule": 0, own: 0 };
  for (const m of r.messages) counts[m.how]++;
  out.push(
    `messages: ${counts.captured} captured messages regenerated and consumed, ${counts["own-on-schedule"]} own messages on the captured schedule, ${counts.own} own messages not in the capture; captured frames not reproduced: ${r.notReproduced.length}`,
  );
  if (r.bothWaysAt !== undefined) {
    out.push(
      `outcome: data flowed both ways at ${r.bothWaysAt.toFixed(6)} s, ${(r.stallSeconds! * 1000).toFixed(2)} ms after the first activity${r.stalled ? ` — STALLED ${r.stallSeconds!.toFixed(2)} s` : " — no stall"}`,
    );
  } else out.push("outcome: data never flowed both ways");
  out.push(
    r.errors.length
      ? `errors logged: ${r.errors.length}\n${r.errors.map((e) => `  ${e}`).join("\n")}`
      : "errors logged: none",
  );
  return out.join("\n");
}
