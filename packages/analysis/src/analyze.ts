/**
 * Capture analysis: per peer pair, handshakes linked by indices, crossing initiations, retries and
 * their reasons, responses never used, time to a working session, rekeys, keepalives, cookie
 * replies, and a plain-language verdict per incident. Streaming: `add()` each decoded message in
 * capture order, then `finish()`.
 */
import type { DecodedMessage } from "./decoded-message.js";
import { hex32 } from "./message-fields.js";

const REKEY_TIMEOUT_S = 5;

export interface PeerInfo {
  /** "A" or "B", by first appearance. */
  label: "A" | "B";
  endpoint: string;
  /** Base64 static public key, when a decrypted initiation or mac1 revealed it. */
  staticKey?: string;
}

/** Times are capture seconds (frame.time_relative), as in the NDJSON output. */
export interface HandshakeRecord {
  initiationFrame: number;
  initiationTime: number;
  initiator: "A" | "B";
  sender: number;
  /** This initiation repeats an earlier one of the same side that did not lead to a session. */
  retry?: { of: number; reason: string };
  crossedWith?: number;
  response?: { frame: number; time: number; sender: number; handshakeOk?: boolean };
  cookieReplyFrame?: number;
  /** First transport data from the initiator on this handshake (the response was consumed). */
  initiatorDataAt?: { frame: number; time: number };
  /** First transport data from the responder on this handshake (key confirmation happened). */
  responderDataAt?: { frame: number; time: number };
  rekey: boolean;
}

export interface Collision {
  /** Capture seconds. */
  time: number;
  first: number;
  second: number;
  gapMs: number;
  /** Both responses came back but no data ever used them. */
  responsesIgnored: boolean;
  /** Seconds from the first initiation until data flowed both ways (undefined: never). */
  stallSeconds?: number;
  resolvedBy?: { frame: number; initiator: "A" | "B"; retry: boolean };
}

export interface PairAnalysis {
  name: string;
  peers: [PeerInfo, PeerInfo];
  handshakes: HandshakeRecord[];
  collisions: Collision[];
  unusedResponses: number[];
  retries: { frame: number; initiator: "A" | "B"; reason: string }[];
  rekeys: number;
  cookieReplies: number[];
  transport: { AtoB: number; BtoA: number; keepalivesAtoB: number; keepalivesBtoA: number };
  /** Capture seconds. */
  firstInitiationTime?: number;
  /** Capture time (seconds) at which data had flowed in both directions on one handshake. */
  workingAt?: number;
  timeToWorkingSeconds?: number;
  verdicts: string[];
}

export interface AnalysisResult {
  messages: number;
  durationSeconds: number;
  pairs: PairAnalysis[];
}

interface PairState {
  analysis: PairAnalysis;
  byInitSender: Map<number, HandshakeRecord>;
  byResponseSender: Map<number, HandshakeRecord>;
  lastInitiation: { A?: HandshakeRecord; B?: HandshakeRecord };
  seenAtoB: boolean;
  seenBtoA: boolean;
}

function shortKey(key: string | undefined): string {
  return key ? ` (${key.slice(0, 4)}…${key.slice(39, 43)})` : "";
}

export function formatDuration(seconds: number): string {
  if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
  return `${seconds.toFixed(2)} s`;
}

export class Analyzer {
  readonly #pairs = new Map<string, PairState>();
  #messages = 0;
  #lastTime = 0;

  add(m: DecodedMessage): void {
    this.#messages++;
    this.#lastTime = m.time;
    const key = m.src < m.dst ? `${m.src}|${m.dst}` : `${m.dst}|${m.src}`;
    let state = this.#pairs.get(key);
    if (!state) {
      const analysis: PairAnalysis = {
        name: "",
        peers: [
          { label: "A", endpoint: m.src },
          { label: "B", endpoint: m.dst },
        ],
        handshakes: [],
        collisions: [],
        unusedResponses: [],
        retries: [],
        rekeys: 0,
        cookieReplies: [],
        transport: { AtoB: 0, BtoA: 0, keepalivesAtoB: 0, keepalivesBtoA: 0 },
        verdicts: [],
      };
      state = {
        analysis,
        byInitSender: new Map(),
        byResponseSender: new Map(),
        lastInitiation: {},
        seenAtoB: false,
        seenBtoA: false,
      };
      this.#pairs.set(key, state);
    }
    const a = state.analysis;
    const from: "A" | "B" = a.peers[0].endpoint === m.src ? "A" : "B";
    const fromPeer = from === "A" ? a.peers[0] : a.peers[1];
    const toPeer = from === "A" ? a.peers[1] : a.peers[0];
    if (m.static) fromPeer.staticKey = m.static;
    if (m.receiverPubkey) toPeer.staticKey = m.receiverPubkey;
    switch (m.type) {
      case 1:
        this.#initiation(state, m, from);
        break;
      case 2:
        this.#response(state, m);
        break;
      case 3: {
        a.cookieReplies.push(m.frame);
        const hs = m.receiver !== undefined ? state.byInitSender.get(m.receiver) : undefined;
        if (hs) hs.cookieReplyFrame = m.frame;
        break;
      }
      case 4:
        this.#transport(state, m, from);
        break;
    }
  }

  #initiation(state: PairState, m: DecodedMessage, from: "A" | "B"): void {
    const a = state.analysis;
    a.firstInitiationTime ??= m.time;
    const hs: HandshakeRecord = {
      initiationFrame: m.frame,
      initiationTime: m.time,
      initiator: from,
      sender: m.sender!,
      rekey: a.workingAt !== undefined,
    };
    if (hs.rekey) a.rekeys++;
    // A crossing initiation: the other side's initiation is still unanswered by us (we sent ours
    // before answering theirs), and recent enough to be in flight.
    const other = state.lastInitiation[from === "A" ? "B" : "A"];
    if (
      other &&
      !other.response &&
      other.crossedWith === undefined &&
      m.time - other.initiationTime < REKEY_TIMEOUT_S
    ) {
      hs.crossedWith = other.initiationFrame;
      other.crossedWith = m.frame;
      a.collisions.push({
        time: other.initiationTime,
        first: other.initiationFrame,
        second: m.frame,
        gapMs: (m.time - other.initiationTime) * 1000,
        responsesIgnored: false,
      });
    }
    const previous = state.lastInitiation[from];
    if (previous && !previous.initiatorDataAt) {
      const since = m.time - previous.initiationTime;
      let reason: string;
      if (!previous.response)
        reason = `no response to frame ${previous.initiationFrame} for ${formatDuration(since)}`;
      else if (previous.crossedWith !== undefined)
        reason = `the response to frame ${previous.initiationFrame} (frame ${previous.response.frame}) was dropped after the initiations crossed`;
      else
        reason = `the response to frame ${previous.initiationFrame} (frame ${previous.response.frame}) was never used`;
      hs.retry = { of: previous.initiationFrame, reason };
      a.retries.push({ frame: m.frame, initiator: from, reason });
    }
    state.lastInitiation[from] = hs;
    a.handshakes.push(hs);
    state.byInitSender.set(hs.sender, hs);
  }

  #response(state: PairState, m: DecodedMessage): void {
    const hs = m.receiver !== undefined ? state.byInitSender.get(m.receiver) : undefined;
    if (!hs || hs.response) return;
    hs.response = { frame: m.frame, time: m.time, sender: m.sender! };
    if (m.handshakeOk !== undefined) hs.response.handshakeOk = m.handshakeOk;
    state.byResponseSender.set(m.sender!, hs);
  }

  #transport(state: PairState, m: DecodedMessage, from: "A" | "B"): void {
    const a = state.analysis;
    if (from === "A") {
      a.transport.AtoB++;
      if (m.keepalive) a.transport.keepalivesAtoB++;
    } else {
      a.transport.BtoA++;
      if (m.keepalive) a.transport.keepalivesBtoA++;
    }
    const receiver = m.receiver!;
    const toResponder = state.byResponseSender.get(receiver);
    if (toResponder && toResponder.initiator === from && !toResponder.initiatorDataAt) {
      toResponder.initiatorDataAt = { frame: m.frame, time: m.time };
    }
    const toInitiator = state.byInitSender.get(receiver);
    if (toInitiator?.response && toInitiator.initiator !== from && !toInitiator.responderDataAt) {
      toInitiator.responderDataAt = { frame: m.frame, time: m.time };
    }
    if (from === "A") state.seenAtoB = true;
    else state.seenBtoA = true;
    if (a.workingAt === undefined && state.seenAtoB && state.seenBtoA) {
      a.workingAt = m.time;
      if (a.firstInitiationTime !== undefined)
        a.timeToWorkingSeconds = m.time - a.firstInitiationTime;
    }
  }

  finish(): AnalysisResult {
    const pairs: PairAnalysis[] = [];
    for (const state of this.#pairs.values()) {
      const a = state.analysis;
      const [A, B] = a.peers;
      a.name = `A ${A.endpoint}${shortKey(A.staticKey)} ⇄ B ${B.endpoint}${shortKey(B.staticKey)}`;
      for (const hs of a.handshakes) {
        if (hs.response && !hs.initiatorDataAt && !hs.responderDataAt)
          a.unusedResponses.push(hs.response.frame);
      }
      const byFrame = new Map(a.handshakes.map((h) => [h.initiationFrame, h]));
      for (const c of a.collisions) {
        const first = byFrame.get(c.first)!;
        const second = byFrame.get(c.second)!;
        const used = (h: HandshakeRecord) =>
          h.initiatorDataAt !== undefined || h.responderDataAt !== undefined;
        c.responsesIgnored = !!first.response && !!second.response && !used(first) && !used(second);
        // The handshake that finally carried data, and when data flowed both ways.
        const later = a.handshakes.find(
          (h) => h.initiationTime >= c.time && h.initiatorDataAt && h.responderDataAt,
        );
        if (later) {
          const both = Math.max(later.initiatorDataAt!.time, later.responderDataAt!.time);
          c.stallSeconds = both - c.time;
          c.resolvedBy = {
            frame: later.initiationFrame,
            initiator: later.initiator,
            retry: !!later.retry,
          };
        }
        a.verdicts.push(collisionVerdict(c, first, second));
      }
      for (const r of a.retries) {
        if (a.collisions.some((c) => c.resolvedBy?.frame === r.frame)) continue;
        a.verdicts.push(`retry by ${r.initiator} at frame ${r.frame}: ${r.reason}`);
      }
      for (const frame of a.unusedResponses) {
        const hs = a.handshakes.find((h) => h.response?.frame === frame)!;
        if (hs.crossedWith !== undefined) continue; // told in the collision verdict
        a.verdicts.push(
          `response frame ${frame} (to ${hs.initiator}'s initiation frame ${hs.initiationFrame}, sender ${hex32(hs.response!.sender)}) was never used: no data on its indices`,
        );
      }
      if (a.cookieReplies.length > 0) {
        a.verdicts.push(
          `${a.cookieReplies.length} cookie repl${a.cookieReplies.length === 1 ? "y" : "ies"} (a peer under load asked for mac2): frames ${a.cookieReplies.join(", ")}`,
        );
      }
      if (a.rekeys > 0)
        a.verdicts.push(
          `${a.rekeys} rekey handshake${a.rekeys === 1 ? "" : "s"} after the session was working`,
        );
      if (a.firstInitiationTime !== undefined) {
        if (a.timeToWorkingSeconds !== undefined) {
          const t = a.timeToWorkingSeconds;
          a.verdicts.push(
            `data flowing both ways ${formatDuration(t)} after the first initiation (at ${a.workingAt!.toFixed(3)} s)${t > 1 ? ": STALLED" : ""}`,
          );
        } else {
          a.verdicts.push("data never flowed both ways after the first initiation");
        }
      } else if (a.workingAt !== undefined) {
        a.verdicts.push(
          "no handshake in the capture; data flowed both ways on an existing session",
        );
      }
      pairs.push(a);
    }
    return { messages: this.#messages, durationSeconds: this.#lastTime, pairs };
  }
}

function collisionVerdict(c: Collision, first: HandshakeRecord, second: HandshakeRecord): string {
  let text = `collision at ${c.time.toFixed(3)} s: both initiated ${formatDuration(c.gapMs / 1000)} apart (${first.initiator} frame ${first.initiationFrame}, ${second.initiator} frame ${second.initiationFrame})`;
  if (c.responsesIgnored) text += "; both responses ignored";
  else if (!first.response || !second.response) text += "; not every initiation was answered";
  else text += "; one of the crossed handshakes completed";
  if (c.stallSeconds !== undefined && c.resolvedBy) {
    const crossed =
      c.resolvedBy.frame === first.initiationFrame || c.resolvedBy.frame === second.initiationFrame;
    if (crossed) text += `; data flowing both ways after ${formatDuration(c.stallSeconds)}`;
    else
      text += `; stalled ${formatDuration(c.stallSeconds)} until ${c.resolvedBy.initiator} ${c.resolvedBy.retry ? "retried" : "initiated again"} (frame ${c.resolvedBy.frame})`;
  } else {
    text += "; no data flowed both ways afterwards";
  }
  return text;
}

/** Human-readable report of an analysis. */
export function renderAnalysis(result: AnalysisResult): string {
  const lines: string[] = [];
  lines.push(
    `${result.messages} WireGuard messages over ${result.durationSeconds.toFixed(3)} s, ${result.pairs.length} peer pair${result.pairs.length === 1 ? "" : "s"}`,
  );
  for (const a of result.pairs) {
    lines.push("");
    lines.push(`Peer pair ${a.name}`);
    lines.push(
      `  handshakes ${a.handshakes.length}, collisions ${a.collisions.length}, retries ${a.retries.length}, unused responses ${a.unusedResponses.length}, rekeys ${a.rekeys}, cookie replies ${a.cookieReplies.length}`,
    );
    lines.push(
      `  transport A→B ${a.transport.AtoB} (keepalives ${a.transport.keepalivesAtoB}), B→A ${a.transport.BtoA} (keepalives ${a.transport.keepalivesBtoA})`,
    );
    for (const h of a.handshakes) {
      const other = h.initiator === "A" ? "B" : "A";
      let line = `  ${h.initiationTime.toFixed(6).padStart(11)}  ${h.initiator}→${other} initiation frame ${h.initiationFrame} sender ${hex32(h.sender)}`;
      if (h.response) {
        line += ` → response frame ${h.response.frame} (+${formatDuration(h.response.time - h.initiationTime)}) sender ${hex32(h.response.sender)}`;
        if (h.response.handshakeOk !== undefined)
          line += ` handshake_ok=${h.response.handshakeOk ? 1 : 0}`;
      } else line += " → no response";
      if (h.initiatorDataAt) line += ` → data frame ${h.initiatorDataAt.frame}`;
      else if (h.response) line += " → response never used";
      if (h.crossedWith !== undefined) line += ` [crossed frame ${h.crossedWith}]`;
      if (h.retry) line += ` [retry of frame ${h.retry.of}]`;
      if (h.rekey) line += " [rekey]";
      lines.push(line);
    }
    for (const v of a.verdicts) lines.push(`  verdict: ${v}`);
  }
  return lines.join("\n");
}
