/**
 * Replay: re-enact a captured conversation through two engines in virtual time. The capture gives
 * the schedule (when each side's application sent data, when each message arrived); the engines —
 * our Device (`wiregate`) or the wireguard-go model — decide what to send. Each message an engine
 * sends is matched to the captured message it corresponds to (by indices, else by type and time)
 * and delivered on the captured schedule; with the key log's ephemeral keys the engines regenerate
 * the captured bytes exactly, so the captured messages themselves are consumed and verified.
 * Both engines run on one `VirtualScheduler` (milliseconds) through core's `DeviceRunner`;
 * results are in capture seconds. How the schedule is read from the capture: replay-setup.ts.
 */
import {
  type CryptoBackend,
  decodeMessage,
  type Message,
  nobleCrypto,
  VirtualScheduler,
} from "@wiregate/core";
import { type DecodedMessage, TYPE_NAMES } from "./decoded-message.js";
import type { KeyMaterial } from "./keys.js";
import { hex32 } from "./message-fields.js";
import {
  createEngine,
  type EngineOutput,
  type ReplayEngine,
  type ReplayModel,
} from "./replay-engines.js";
import { bytesEqual, identities, other, type Side, script, timing } from "./replay-setup.js";

export type { ReplayModel };

export interface ReplayOptions {
  model: ReplayModel;
  keys?: KeyMaterial;
  crypto?: CryptoBackend;
  /** Virtual seconds to keep running after the last captured message (default 1). */
  tailSeconds?: number;
}

export interface ReplayedMessage {
  /** Capture seconds. */
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
  /** Times in capture seconds. */
  lines: { time: number; text: string }[];
  messages: ReplayedMessage[];
  /** Captured frames no engine message corresponded to. */
  notReproduced: number[];
  /** Capture seconds. */
  firstActivity?: number;
  bothWaysAt?: number;
  stallSeconds?: number;
  stalled: boolean;
  errors: string[];
}

/** A tunnel packet standing in for an undecrypted captured one of the same size. */
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

/** "initiation sender 0x…", "transport data (1452 bytes) receiver 0x…". */
function summarize(m: Message, length: number): string {
  const what = m.type === 4 ? (length === 32 ? " (keepalive)" : ` (${length} bytes)`) : "";
  const sender = m.type === 1 || m.type === 2 ? ` sender ${hex32(m.sender)}` : "";
  const receiver = m.type !== 1 ? ` receiver ${hex32(m.receiver)}` : "";
  return `${TYPE_NAMES[m.type]}${what}${sender}${receiver}`;
}

const MAX_STEPS = 1_000_000;

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
  const ids = identities(captured, sideOf, options.keys, c);
  result.keyMode = ids.keyMode;
  const t = timing(captured, sideOf);
  result.captureSide = t.captureSide;
  result.latencyMs = t.latencySeconds * 1000;
  const d = t.latencySeconds;

  // The other side's messages were sent before the capture saw them: time starts before zero.
  let startMs = 0;
  for (const m of captured) startMs = Math.min(startMs, t.sendTime(m) * 1000);
  const scheduler = new VirtualScheduler(startMs);
  const seconds = () => scheduler.now() / 1000;
  /** Runs `fn` at capture time `at` (seconds); a guard ends a replay that would never stop. */
  let steps = 0;
  const at = (time: number, fn: () => void) =>
    scheduler.at(time * 1000, () => {
      if (++steps <= MAX_STEPS) fn();
    });

  // ---- matching what an engine sends to the captured message it stands for
  const matched = new Set<DecodedMessage>();
  const findCaptured = (from: Side, m: Message, now: number): DecodedMessage | undefined => {
    const candidates = captured.filter(
      (x) => !matched.has(x) && sideOf(x) === from && x.type === m.type,
    );
    const byIndex = candidates.find((x) => {
      if (m.type === 1 || m.type === 2) return x.sender === m.sender;
      if (m.type === 3) return x.receiver === m.receiver;
      return x.receiver === m.receiver && x.counter === m.counter;
    });
    if (byIndex) return byIndex;
    if (m.type === 4) return undefined;
    return candidates.find((x) => Math.abs(t.sendTime(x) - now) < 1);
  };

  const engines = {} as Record<Side, ReplayEngine>;
  const deliver = (s: Side, time: number, bytes: Uint8Array) =>
    at(time, () => {
      result.firstActivity ??= time;
      engines[s].receive(bytes);
      if (result.bothWaysAt === undefined && engines.A.received() > 0 && engines.B.received() > 0)
        result.bothWaysAt = time;
    });
  const collect = (s: Side, { datagrams, lines, errors }: EngineOutput) => {
    const now = seconds();
    for (const l of lines) result.lines.push({ time: now, text: l });
    result.errors.push(...errors);
    for (const bytes of datagrams) {
      const decoded = decodeMessage(bytes);
      if (!decoded.ok) throw new Error(`replay: ${s} sent an undecodable datagram`);
      const m = findCaptured(s, decoded.message, now);
      let how: ReplayedMessage["how"] = "own";
      let deliveredAt = now + d;
      let delivered = bytes;
      if (m) {
        matched.add(m);
        deliveredAt = Math.max(now, t.processTime(m));
        if (m.payload && bytesEqual(m.payload, bytes)) {
          how = "captured";
          delivered = m.payload;
        } else how = "own-on-schedule";
      }
      const summary = summarize(decoded.message, bytes.length);
      const entry: ReplayedMessage = {
        sentAt: now,
        deliveredAt,
        from: s,
        type: decoded.message.type,
        summary,
        how,
      };
      if (m) entry.frame = m.frame;
      result.messages.push(entry);
      deliver(other(s), deliveredAt, delivered);
    }
  };

  for (const s of ["A", "B"] as const) {
    engines[s] = createEngine(options.model, {
      side: s,
      scheduler,
      privateKey: ids.privateOf[s],
      peerPublicKey: ids.publicOf[other(s)],
      presharedKey: ids.psk,
      script: script(s, captured, sideOf, t.sendTime, options.keys, `replay ${s} ${options.model}`),
      crypto: c,
      emit: (out) => collect(s, out),
    });
  }

  // ---- stimuli: each side's application data, the first moved to its first initiation
  for (const s of ["A", "B"] as const) {
    const dataFrom = captured.filter((m) => sideOf(m) === s && m.type === 4 && !m.keepalive);
    const firstInit = captured.find((m) => sideOf(m) === s && m.type === 1);
    const tunnel = s === "A" ? 1 : 2;
    const packetOf = (m: DecodedMessage) =>
      m.plaintext ?? syntheticPacket(tunnel, 3 - tunnel, m.length - 32);
    const send = (time: number, packet: Uint8Array) =>
      at(time, () => {
        result.firstActivity ??= time;
        engines[s].send(packet);
      });
    let start = 0;
    if (firstInit && (!dataFrom[0] || dataFrom[0].time > firstInit.time)) {
      const time = t.sendTime(firstInit);
      if (dataFrom[0]) {
        send(time, packetOf(dataFrom[0]));
        start = 1;
      } else {
        at(time, () => {
          result.firstActivity ??= time;
          engines[s].initiate();
        });
      }
    }
    for (const m of dataFrom.slice(start)) send(t.sendTime(m), packetOf(m));
  }

  // ---- the run
  scheduler.advanceTo(((captured.at(-1)?.time ?? 0) + (options.tailSeconds ?? 1)) * 1000);
  engines.A.stop();
  engines.B.stop();
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
