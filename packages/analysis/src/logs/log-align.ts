/**
 * A log next to a capture: which capture peer wrote it, its clock's offset from the capture's, each
 * line matched to the frame it must correspond to, and what disagrees (a line with no frame, a frame
 * no line mentions).
 *
 * The offset is the one that matches the most lines (each "sending"/"received" line has one frame of
 * the same type in the same direction), refined to the median of the matched pairs' differences. A
 * whole-second stamp is truncated (Go's log writes the second the line was written in), so its line
 * is matched against frames in [stamp, stamp + 1 s) after the offset, give or take `ALIGN_SLACK_S`.
 */
import type { DecodedMessage } from "../decoded-message.js";
import type { LogEvent, LogEventKind } from "./log-event.js";
import type { ParsedLog } from "./log-reader.js";
import { goPeerName } from "./wireguard-go-log.js";

/** Which frame a line must correspond to: message type, and whether the log's side sent it. */
const FRAME_OF: Partial<
  Record<LogEventKind, { type: 1 | 2 | 3 | 4; sent: boolean; keepalive?: true }>
> = {
  "initiation-sent": { type: 1, sent: true },
  "initiation-received": { type: 1, sent: false },
  "initiation-invalid": { type: 1, sent: false },
  "response-sent": { type: 2, sent: true },
  "response-received": { type: 2, sent: false },
  "response-invalid": { type: 2, sent: false },
  "cookie-sent": { type: 3, sent: true },
  "cookie-received": { type: 3, sent: false },
  "keepalive-sent": { type: 4, sent: true, keepalive: true },
  "keepalive-received": { type: 4, sent: false, keepalive: true },
};

/**
 * Slack around a line's time: it is written a little before ("Sending …") or after ("Received …")
 * its packet passes the capture point, and a prefix stamp is taken when a reader got the line.
 */
export const ALIGN_SLACK_S = 0.02;
const SEARCH_EVENTS = 200;

export interface LineMatch {
  event: LogEvent;
  /** The frame, or undefined: a line with no frame. */
  frame?: number;
  /** Frame time minus the line's time after the offset (seconds). */
  residual?: number;
}

export interface LogAlignment {
  log: string;
  /** The capture endpoint of the side that wrote the log, and of its peer. */
  endpoint: string;
  peerEndpoint: string;
  /** How the side was found. */
  sideBy: "endpoint" | "peer key" | "best fit";
  /** Add to a line's time to get capture time (seconds since the epoch). */
  offsetSeconds: number;
  precision: number;
  /** Lines that must have a frame, and what each matched. */
  matches: LineMatch[];
  linesWithoutFrame: LineMatch[];
  /** Lines that fall before the capture's first or after its last frame (not flagged). */
  outsideCapture: number;
  /** Frames of this side's handshake (and keepalives) inside the log's span (any timed line) that no line mentions. */
  framesWithoutLine: number[];
  /** The largest |residual| of a matched line (for whole-second stamps: within [0, 1 s)). */
  maxResidualSeconds: number;
}

interface Frame {
  m: DecodedMessage;
  t: number;
}

const epochSeconds = (m: DecodedMessage) => Number(m.timestampNs / 1000n) / 1e6;

export function alignLog(
  log: ParsedLog,
  messages: readonly DecodedMessage[],
): LogAlignment | undefined {
  const handshake = messages.filter((m) => m.type !== 4 || m.keepalive);
  if (handshake.length === 0) return undefined;
  const endpoints = [...new Set(handshake.flatMap((m) => [m.src, m.dst]))];
  const keys = new Map<string, string>();
  for (const m of handshake) {
    if (m.static) keys.set(m.src, m.static);
    if (m.receiverPubkey) keys.set(m.dst, m.receiverPubkey);
  }
  const candidates: { own: string; peer: string; by: LogAlignment["sideBy"] }[] = [];
  const remote = new Set(log.report.endpoints);
  const peerNames = new Set(log.report.peers);
  for (const own of endpoints) {
    for (const peer of endpoints) {
      if (
        own === peer ||
        !handshake.some(
          (m) => (m.src === own && m.dst === peer) || (m.src === peer && m.dst === own),
        )
      )
        continue;
      if (remote.has(peer)) candidates.push({ own, peer, by: "endpoint" });
      else if (keys.has(peer) && peerNames.has(goPeerName(keys.get(peer)!)))
        candidates.push({ own, peer, by: "peer key" });
    }
  }
  if (candidates.length === 0) {
    for (const own of endpoints)
      for (const peer of endpoints)
        if (own !== peer && handshake.some((m) => m.src === own && m.dst === peer))
          candidates.push({ own, peer, by: "best fit" });
  }
  let best: LogAlignment | undefined;
  for (const c of candidates.slice(0, 16)) {
    const a = alignAs(log, handshake, c.own, c.peer, c.by);
    if (
      a &&
      (!best ||
        a.matches.length - a.linesWithoutFrame.length >
          best.matches.length - best.linesWithoutFrame.length)
    )
      best = a;
  }
  return best;
}

function alignAs(
  log: ParsedLog,
  messages: readonly DecodedMessage[],
  own: string,
  peer: string,
  sideBy: LogAlignment["sideBy"],
): LogAlignment | undefined {
  const frames: Frame[] = messages
    .filter((m) => (m.src === own && m.dst === peer) || (m.src === peer && m.dst === own))
    .map((m) => ({ m, t: epochSeconds(m) }));
  const events = log.events.filter((e) => FRAME_OF[e.kind]);
  if (events.length === 0 || frames.length === 0) return undefined;
  const precision = log.report.precision ?? 1;
  const compatible = (e: LogEvent, f: Frame) => {
    const want = FRAME_OF[e.kind]!;
    return (
      f.m.type === want.type &&
      (f.m.src === own) === want.sent &&
      (!want.keepalive || f.m.keepalive === true)
    );
  };
  // Window of a line's true time relative to its stamp: [0, precision) for truncated whole seconds.
  const lo = -ALIGN_SLACK_S;
  const hi = precision + ALIGN_SLACK_S;
  const fits = (e: LogEvent, f: Frame, offset: number) => {
    const r = f.t - (e.time + offset);
    return r >= lo && r < hi;
  };
  // Candidate offsets: each compatible (line, frame) pair among the first lines; keep the best count.
  const sample = events.slice(0, SEARCH_EVENTS);
  let bestOffset = 0;
  let bestCount = -1;
  // A truncated stamp puts the offset in (f - e - precision, f - e]: try both ends.
  const ends = precision >= 1 ? [1e-3, precision - 1e-3] : [0];
  for (const e of sample) {
    for (const f of frames) {
      if (!compatible(e, f)) continue;
      for (const end of ends) {
        const offset = f.t - e.time - end;
        const count = match(sample, frames, offset, compatible, fits).filter(
          (x) => x.frame !== undefined,
        ).length;
        if (count > bestCount) {
          bestCount = count;
          bestOffset = offset;
        }
      }
      if (frames.length * sample.length > 40_000) break; // bounded search on huge inputs
    }
  }
  if (bestCount <= 0) return undefined;
  let matches = match(events, frames, bestOffset, compatible, fits);
  if (precision >= 1) {
    // Refine: the middle of the offsets every matched pair allows.
    const frameTime = new Map(frames.map((f) => [f.m.frame, f.t]));
    let low = Number.NEGATIVE_INFINITY;
    let high = Number.POSITIVE_INFINITY;
    for (const x of matches) {
      if (x.frame === undefined) continue;
      const d = frameTime.get(x.frame)! - x.event.time;
      low = Math.max(low, d - precision);
      high = Math.min(high, d);
    }
    if (low < high) bestOffset = (low + high) / 2;
  } else {
    // Refine: the median difference of the matched pairs.
    const residuals = matches
      .flatMap((x) => (x.residual !== undefined ? [x.residual] : []))
      .sort((a, b) => a - b);
    bestOffset += residuals[Math.floor(residuals.length / 2)] ?? 0;
  }
  matches = match(events, frames, bestOffset, compatible, fits);
  const start = frames[0]!.t;
  const end = frames[frames.length - 1]!.t;
  const inside = (x: LineMatch) => {
    const t = x.event.time + bestOffset;
    return t + hi >= start && t + lo <= end;
  };
  const matchedFrames = new Set(matches.flatMap((x) => (x.frame !== undefined ? [x.frame] : [])));
  const span = log.report.span ?? { first: log.events[0]!.time, last: log.events.at(-1)!.time };
  const first = Math.min(span.first, log.events[0]!.time) + bestOffset;
  const last = Math.max(span.last, log.events.at(-1)!.time) + bestOffset + precision;
  // A frame is expected in the log if its type is always logged (handshake messages) or the log
  // mentions that kind at all (keepalives: a filtered log may leave them out).
  const mentionable = (f: Frame) => f.m.type !== 4 || events.some((e) => compatible(e, f));
  const framesWithoutLine = frames
    .filter((f) => f.t >= first && f.t <= last && !matchedFrames.has(f.m.frame) && mentionable(f))
    .map((f) => f.m.frame);
  return {
    log: log.name,
    endpoint: own,
    peerEndpoint: peer,
    sideBy,
    offsetSeconds: bestOffset,
    precision,
    matches,
    linesWithoutFrame: matches.filter((x) => x.frame === undefined && inside(x)),
    outsideCapture: matches.filter((x) => x.frame === undefined && !inside(x)).length,
    framesWithoutLine,
    maxResidualSeconds: matches.reduce((max, x) => Math.max(max, Math.abs(x.residual ?? 0)), 0),
  };
}

/** One-to-one in time order: each line takes the earliest unused compatible frame that fits. */
function match(
  events: readonly LogEvent[],
  frames: readonly Frame[],
  offset: number,
  compatible: (e: LogEvent, f: Frame) => boolean,
  fits: (e: LogEvent, f: Frame, offset: number) => boolean,
): LineMatch[] {
  const used = new Set<number>();
  return events.map((event) => {
    for (const f of frames) {
      if (used.has(f.m.frame) || !compatible(event, f) || !fits(event, f, offset)) continue;
      used.add(f.m.frame);
      return { event, frame: f.m.frame, residual: f.t - (event.time + offset) };
    }
    return { event };
  });
}
