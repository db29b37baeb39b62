/**
 * Our own trace events (`TraceEvent` of @wiregate/core) as NDJSON, one object per line: what the
 * page's timeline exports and what the relay logs. Time: `at` (ms since the epoch) when present,
 * else `time` as an ISO string (the relay's JSON logs) or a number (the engine's monotonic ms).
 */
import type { LogClock, LogEventKind } from "./log-event.js";

const KINDS: Partial<Record<string, LogEventKind>> = {
  "initiation-sent": "initiation-sent",
  "initiation-consumed": "initiation-received",
  "response-sent": "response-sent",
  "response-consumed": "response-received",
  "keypair-created": "keypair-created",
  "keys-zeroed": "keys-zeroed",
  "handshake-gave-up": "gave-up",
  "cookie-sent": "cookie-sent",
  "cookie-received": "cookie-received",
  "keepalive-sent": "keepalive-sent",
  collision: "collision",
};
const TRACE_KINDS = new Set([
  ...Object.keys(KINDS),
  "peer-added",
  "peer-removed",
  "initiation-suppressed",
  "keypair-confirmed",
  "keypair-retired",
  "endpoint-changed",
  "packet-dropped",
  "rejected",
]);
const LEVELS = new Set(["debug", "info", "warn", "error"]);

export interface TraceLine {
  seconds: number;
  clock: LogClock;
  precision: number;
  traceKind: string;
  level: "debug" | "info" | "warn" | "error";
  kind?: LogEventKind;
  peer?: string;
  detail?: string;
  message: string;
}

export function parseTraceLine(text: string): TraceLine | undefined {
  if (!text.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.kind !== "string" || !TRACE_KINDS.has(o.kind)) return undefined;
  let seconds: number;
  let clock: LogClock = "wall";
  if (typeof o.at === "number" && Number.isFinite(o.at)) seconds = o.at / 1000;
  else if (typeof o.time === "string" && Number.isFinite(Date.parse(o.time)))
    seconds = Date.parse(o.time) / 1000;
  else if (typeof o.time === "number" && Number.isFinite(o.time)) {
    seconds = o.time / 1000;
    clock = "monotonic";
  } else return undefined;
  const reason = typeof o.reason === "string" ? o.reason.slice(0, 200) : undefined;
  let kind = KINDS[o.kind];
  if (o.kind === "rejected" && reason) {
    if (/response/i.test(reason)) kind = "response-invalid";
    else if (/initiation/i.test(reason)) kind = "initiation-invalid";
  }
  const line: TraceLine = {
    seconds,
    clock,
    precision: 1e-3,
    traceKind: o.kind,
    level:
      typeof o.level === "string" && LEVELS.has(o.level)
        ? (o.level as TraceLine["level"])
        : "debug",
    message: `${o.kind}${reason ? ` (${reason})` : ""}`,
  };
  if (kind) line.kind = kind;
  if (typeof o.peer === "string") line.peer = o.peer.slice(0, 64);
  if (reason) line.detail = reason;
  return line;
}
