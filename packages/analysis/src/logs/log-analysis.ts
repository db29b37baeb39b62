/**
 * Analysis from logs alone: per peer, the handshake timeline, collisions, retries, rejected
 * responses and the seed's error messages, stalls and the time to a working session — the verdicts
 * of the capture analysis (analyze.ts), each marked with the precision the timestamps allow.
 *
 * A collision is read from each side's own order of events, which needs no clock: the peer's
 * initiation arrived while this side's own was pending. Durations between sides need both logs on
 * one clock (wall-clock logs are assumed synchronised; a monotonic log is compared only with itself).
 */
import { formatDuration } from "../analyze.js";
import { formatPrecision, type LogEvent } from "./log-event.js";
import type { ParsedLog } from "./log-reader.js";
import {
  completedAt,
  explainProblem,
  REKEY_TIMEOUT_S,
  type SideInitiation,
  type SideTimeline,
  sideTimeline,
} from "./log-timeline.js";

export interface LogRef {
  log: string;
  line: number;
  time: number;
}

export interface LogCollision {
  /** The earlier of the crossed initiations (by the clock when the logs share one). */
  first: LogRef;
  /** The other side's initiation, when its log is here. */
  second?: LogRef;
  /** Seconds between the two initiations, when both logs share a clock. */
  gapSeconds?: number;
  /** The resolution of `gapSeconds`: the coarser stamp's precision (the true gap is below gap + this). */
  gapPrecision?: number;
  /** Sides whose log shows the peer's initiation arriving while its own was pending. */
  seenBy: string[];
  /** "invalid response" lines after the crossing. */
  responsesRejected: LogRef[];
  /** Seconds from the first crossed initiation until a handshake completed. */
  stallSeconds?: number;
  resolvedBy?: LogRef & { retry: boolean };
  /** With one side's log only: the peer's next initiation this side received and answered. */
  answeredNext?: LogRef;
}

export interface LogPairAnalysis {
  name: string;
  sides: SideTimeline[];
  /** Every side on one clock: cross-side durations are meaningful. */
  sharedClock: boolean;
  /** The coarsest stamp resolution among the sides, in seconds. */
  precision: number;
  collisions: LogCollision[];
  retries: (LogRef & { try?: number; reason: string })[];
  problems: string[];
  firstInitiation?: LogRef;
  /** The first handshake that completed (the initiator received the response and derived keys). */
  workingAt?: LogRef;
  timeToWorkingSeconds?: number;
  verdicts: string[];
}

export interface LogAnalysisResult {
  pairs: LogPairAnalysis[];
}

const TIMELINE_LINES = 500;
const ref = (e: LogEvent): LogRef => ({ log: e.log, line: e.line, time: e.time });
const at = (r: LogRef) => `${r.log} line ${r.line}`;

/** Group each log's events by peer; two logs with one peer each are the two ends of one pair. */
export function analyzeLogs(logs: ParsedLog[]): LogAnalysisResult {
  const groups: { name: string; sides: SideTimeline[] }[] = [];
  const perLog = logs.map((log) => byPeer(log));
  if (perLog.length === 2 && perLog.every((peers) => peers.size === 1)) {
    const sides = perLog.map((peers, i) => {
      const [peer, events] = [...peers][0]!;
      return sideTimeline(logs[i]!.name, peer, events);
    });
    groups.push({ name: `${sides[0]!.log} ⇄ ${sides[1]!.log}`, sides });
  } else {
    perLog.forEach((peers, i) => {
      for (const [peer, events] of peers) {
        const name = logs[i]!.name;
        groups.push({
          name: `${name} ⇄ ${peer ?? "its peer"}`,
          sides: [sideTimeline(name, peer, events)],
        });
      }
    });
  }
  return { pairs: groups.map((g) => analyzePair(g.name, g.sides)) };
}

/** Lines that name no peer (wireguard-go's "invalid response … from ENDPOINT") go to the log's only peer. */
function byPeer(log: ParsedLog): Map<string | undefined, LogEvent[]> {
  const named = new Set(log.events.flatMap((e) => (e.peer ? [e.peer] : [])));
  const only = named.size === 1 ? [...named][0] : undefined;
  const groups = new Map<string | undefined, LogEvent[]>();
  for (const e of log.events) {
    const peer = e.peer ?? only;
    const list = groups.get(peer);
    if (list) list.push(e);
    else groups.set(peer, [e]);
  }
  return groups;
}

function analyzePair(name: string, sides: SideTimeline[]): LogPairAnalysis {
  const all = sides.flatMap((s) => s.events);
  const clocks = new Set(all.map((e) => e.clock));
  const sharedClock = sides.length === 1 || (clocks.size === 1 && !clocks.has("monotonic"));
  const precision = all.reduce((max, e) => Math.max(max, e.precision), 0);
  const a: LogPairAnalysis = {
    name,
    sides,
    sharedClock,
    precision,
    collisions: [],
    retries: [],
    problems: [],
    verdicts: [],
  };
  const inits = sides.flatMap((s) => s.initiations);
  const ordered = sharedClock ? [...inits].sort((x, y) => x.event.time - y.event.time) : inits;
  if (ordered[0]) a.firstInitiation = ref(ordered[0].event);
  const done = ordered
    .map((i) => ({ init: i, at: completedAt(i) }))
    .filter((d) => d.at !== undefined)
    .sort((x, y) => x.at!.time - y.at!.time);
  if (done[0] && a.firstInitiation && (sharedClock || done[0].at!.log === a.firstInitiation.log)) {
    a.workingAt = ref(done[0].at!);
    a.timeToWorkingSeconds = a.workingAt.time - a.firstInitiation.time;
  }
  findCollisions(a, sides, done);
  for (const side of sides) {
    side.initiations.forEach((init, i) => {
      const previous = side.initiations[i - 1];
      if (!init.retry || !previous) return;
      const since = init.event.time - previous.event.time;
      const reason = previous.rejected
        ? `the response to its initiation at ${at(ref(previous.event))} was rejected (${at(ref(previous.rejected))})`
        : previous.crossedBy
          ? `its initiation at ${at(ref(previous.event))} was crossed by the peer's and never answered usefully`
          : `no response to its initiation at ${at(ref(previous.event))} for ${formatDuration(since)}`;
      const retry: LogPairAnalysis["retries"][number] = { ...ref(init.event), reason };
      if (init.retryTry !== undefined) retry.try = init.retryTry;
      a.retries.push(retry);
    });
    for (const p of side.problems) a.problems.push(explainProblem(p));
  }
  verdicts(a);
  return a;
}

function findCollisions(
  a: LogPairAnalysis,
  sides: SideTimeline[],
  done: { init: SideInitiation; at?: LogEvent }[],
): void {
  const crossed = sides.flatMap((s) => s.initiations.filter((i) => i.crossedBy));
  const used = new Set<SideInitiation>();
  for (const init of crossed) {
    if (used.has(init)) continue;
    used.add(init);
    // The other side's crossed initiation: on a shared clock, the nearest one within REKEY_TIMEOUT.
    let partner: SideInitiation | undefined;
    if (a.sharedClock) {
      for (const other of crossed) {
        if (used.has(other) || other.event.log === init.event.log) continue;
        const gap = Math.abs(other.event.time - init.event.time);
        if (
          gap < REKEY_TIMEOUT_S &&
          (!partner || gap < Math.abs(partner.event.time - init.event.time))
        )
          partner = other;
      }
    } else partner = crossed.find((o) => !used.has(o) && o.event.log !== init.event.log);
    if (partner) used.add(partner);
    const pair = partner ? [init, partner] : [init];
    if (a.sharedClock) pair.sort((x, y) => x.event.time - y.event.time);
    const [first, second] = pair;
    const c: LogCollision = {
      first: ref(first!.event),
      seenBy: pair.map((i) => i.event.log),
      responsesRejected: pair.flatMap((i) => (i.rejected ? [ref(i.rejected)] : [])),
    };
    if (second) {
      c.second = ref(second.event);
      if (a.sharedClock) {
        c.gapSeconds = second.event.time - first!.event.time;
        c.gapPrecision = Math.max(first!.event.precision, second.event.precision);
      }
    }
    const resolved = done.find(
      (d) =>
        (a.sharedClock || d.at!.log === first!.event.log) && d.init.event.time >= first!.event.time,
    );
    if (resolved) {
      c.stallSeconds = resolved.at!.time - first!.event.time;
      c.resolvedBy = { ...ref(resolved.init.event), retry: resolved.init.retry };
    } else if (!partner) {
      // One log: the stall ends, as far as this side can tell, when it answers the peer's next initiation.
      const side = sides.find((s) => s.log === init.event.log)!;
      const next = side.received.find((e) => e.line > init.crossedBy!.line);
      if (next) {
        c.answeredNext = ref(next);
        c.stallSeconds = next.time - init.event.time;
      }
    }
    a.collisions.push(c);
  }
}

function verdicts(a: LogPairAnalysis): void {
  const p = a.precision;
  const within = p >= 1 ? ` (±${formatPrecision(p)})` : "";
  const t0 = a.firstInitiation?.time ?? 0;
  const rel = (r: LogRef) => `${(r.time - t0).toFixed(p >= 1 ? 0 : 3)} s`;
  for (const c of a.collisions) {
    let text = `collision at ${rel(c.first)}: `;
    if (c.second && c.gapSeconds !== undefined) {
      if (c.gapSeconds <= c.gapPrecision!)
        text += `both initiated within ${formatPrecision(c.gapSeconds + c.gapPrecision!)} of each other (${at(c.first)}, ${at(c.second)}; ${p >= 1 ? "one-second timestamps cannot order or time the crossing — it is shown by each side receiving the other's initiation while its own was pending" : `timestamps to ${formatPrecision(p)}`})`;
      else
        text += `both initiated ${formatDuration(c.gapSeconds)} apart (${at(c.first)}, ${at(c.second)}; timestamps to ${formatPrecision(p)})`;
    } else if (c.second) {
      text += `both initiated (${at(c.first)}, ${at(c.second)}; the logs are on different clocks, the gap cannot be measured)`;
    } else {
      text += `${c.first.log} received the peer's initiation while its own (${at(c.first)}) was pending: the initiations crossed (the peer's log is not here)`;
    }
    if (c.responsesRejected.length >= 2)
      text += `; both responses rejected (${c.responsesRejected.map(at).join(", ")})`;
    else if (c.responsesRejected.length === 1)
      text += `; a response was rejected (${at(c.responsesRejected[0]!)})`;
    if (c.stallSeconds !== undefined && c.resolvedBy) {
      const crossed = [c.first, c.second].some(
        (r) => r && r.log === c.resolvedBy!.log && r.line === c.resolvedBy!.line,
      );
      if (crossed)
        text += `; a handshake completed after ${formatDuration(c.stallSeconds)}${within}`;
      else
        text += `; stalled ${formatDuration(c.stallSeconds)}${within} until ${c.resolvedBy.log} ${c.resolvedBy.retry ? "retried" : "initiated again"} (${at(c.resolvedBy)})`;
    } else if (c.answeredNext && c.stallSeconds !== undefined)
      text += `; stalled ${formatDuration(c.stallSeconds)}${within} until the peer initiated again (received at ${at(c.answeredNext)}; only the peer's log can show it completing)`;
    else text += "; no handshake completed afterwards";
    a.verdicts.push(text);
  }
  for (const r of a.retries) {
    if (a.collisions.some((c) => c.resolvedBy?.log === r.log && c.resolvedBy.line === r.line))
      continue;
    a.verdicts.push(`retry by ${r.log} at ${at(r)}${r.try ? ` (try ${r.try})` : ""}: ${r.reason}`);
  }
  for (const problem of a.problems) a.verdicts.push(problem);
  if (a.firstInitiation) {
    if (a.timeToWorkingSeconds !== undefined) {
      const t = a.timeToWorkingSeconds;
      a.verdicts.push(
        `handshake complete ${formatDuration(t)}${within} after the first initiation (${at(a.workingAt!)}; timestamps to ${formatPrecision(p)})${t > 1 ? ": STALLED" : ""}`,
      );
    } else if (!a.sharedClock && a.sides.length > 1)
      a.verdicts.push("the logs are on different clocks: time to a working session not measured");
    else if (a.collisions.some((c) => c.answeredNext)) {
      const c = a.collisions.find((x) => x.answeredNext)!;
      a.verdicts.push(
        `no handshake of ${c.first.log}'s own completed; it answered the peer's initiation ${formatDuration(c.stallSeconds!)}${within} after its first (${at(c.answeredNext!)})${c.stallSeconds! > 1 ? ": STALLED" : ""}`,
      );
    } else a.verdicts.push("no handshake completed after the first initiation");
  }
}

/** Human-readable report of a log analysis. */
export function renderLogAnalysis(result: LogAnalysisResult): string {
  const lines: string[] = [];
  for (const a of result.pairs) {
    if (lines.length) lines.push("");
    lines.push(`Peer pair ${a.name} (from logs; timestamps to ${formatPrecision(a.precision)})`);
    lines.push(
      `  initiations ${a.sides.map((s) => `${s.log} ${s.initiations.length}`).join(", ")}, collisions ${a.collisions.length}, retries ${a.retries.length}, problems ${a.problems.length}`,
    );
    const events = a.sides.flatMap((s) => s.events);
    if (a.sharedClock) events.sort((x, y) => x.time - y.time);
    const t0 = a.firstInitiation?.time ?? events[0]?.time ?? 0;
    for (const e of events.slice(0, TIMELINE_LINES)) {
      const t =
        a.sharedClock || e.log === a.firstInitiation?.log
          ? (e.time - t0).toFixed(6).padStart(11)
          : "          ?";
      lines.push(
        `  ${t}  ${e.log.padEnd(4)} line ${String(e.line).padEnd(4)} ${e.kind.padEnd(22)} ${e.text}`,
      );
    }
    if (events.length > TIMELINE_LINES)
      lines.push(`  … ${events.length - TIMELINE_LINES} more events`);
    for (const v of a.verdicts) lines.push(`  verdict: ${v}`);
  }
  return lines.join("\n");
}
