/**
 * What every log parser produces: one `LogEvent` per line it understood, in the vocabulary of a
 * handshake (the same for wireguard-go, the kernel module and our own trace events), plus a
 * `LogReport` that says what it did not understand instead of failing.
 */

export type LogFormat = "wireguard-go" | "kernel" | "trace";

export type LogEventKind =
  | "initiation-sent"
  | "initiation-received"
  /** "Received invalid initiation message" / "Invalid handshake initiation". */
  | "initiation-invalid"
  | "response-sent"
  | "response-received"
  /** "Received invalid response message" / "Invalid handshake response": the response was dropped. */
  | "response-invalid"
  /** wireguard-go "Failed to create response message" (the seed: "handshake initiation must be consumed first"). */
  | "response-create-failed"
  /** wireguard-go "Failed to derive keypair" (the seed: "invalid state for keypair derivation"). */
  | "keypair-derive-failed"
  | "initiation-create-failed"
  /** "Handshake did not complete after 5 seconds, retrying (try N)". */
  | "retry"
  | "gave-up"
  /** "Retrying handshake because we stopped hearing back". */
  | "stopped-hearing"
  | "keepalive-sent"
  | "keepalive-received"
  | "keypair-created"
  | "keypair-destroyed"
  | "keys-zeroed"
  | "cookie-sent"
  | "cookie-received"
  | "invalid-mac"
  | "handshake-replay"
  | "handshake-flood"
  /** Our engine's own "collision" trace event. */
  | "collision";

/** Which clock a log's times are on. Wall: seconds since the epoch; monotonic: since boot. */
export type LogClock = "wall" | "monotonic";

export interface LogEvent {
  /** The log's name (its side, e.g. "A", or its file name). */
  log: string;
  /** 1-based line number in the log. */
  line: number;
  /** Seconds on the log's clock. */
  time: number;
  /** The resolution of `time` in seconds: 1 for whole-second stamps, 1e-6 for microseconds. */
  precision: number;
  clock: LogClock;
  format: LogFormat;
  kind: LogEventKind;
  level: "debug" | "info" | "warn" | "error";
  /** The peer as the log names it: wireguard-go `AbCd…WxYz`, kernel `peer 3`, trace base64 key. */
  peer?: string;
  /** The remote endpoint the line names (`10.0.0.2:51820`). */
  endpoint?: string;
  interface?: string;
  /** Retry number ("try 2"), keypair id, … */
  number?: number;
  /** The error text after the message, e.g. "handshake initiation must be consumed first". */
  detail?: string;
  /** The message itself, without time prefixes (bounded). */
  text: string;
}

export interface LineExample {
  line: number;
  text: string;
}

export interface LogReport {
  name: string;
  /** The format most lines were in (undefined: no line was understood). */
  format?: LogFormat;
  /** Understood lines per format; more than one entry means a mixed log. */
  formats: Partial<Record<LogFormat, number>>;
  lines: number;
  /** Handshake events kept. */
  events: number;
  /** Lines in a known format whose message is not about the handshake (worker start-up, UAPI, …). */
  otherLines: number;
  /** Lines in no known format: how many, and the first few. */
  unrecognised: { count: number; examples: LineExample[] };
  /** Lines longer than the reader's limit (their content is skipped). */
  tooLong: number;
  /** Lines whose time is earlier than the line before on the same clock. */
  backwards: { count: number; first?: { line: number; bySeconds: number } };
  clock?: LogClock;
  /** First and last time of any timed line (handshake or not), on the events' clock. */
  span?: { first: number; last: number };
  /** The coarsest timestamp resolution among the events, in seconds. */
  precision?: number;
  interfaces: string[];
  /** Peers named (bounded), and remote endpoints named (bounded). */
  peers: string[];
  endpoints: string[];
  /** Events beyond the per-log limit that were counted but not kept. */
  droppedEvents: number;
}

/** Plain-language one-paragraph summary of a report (for stderr and the page). */
export function describeReport(r: LogReport): string {
  const parts: string[] = [];
  const formats = Object.entries(r.formats).map(([f, n]) => `${n} ${f}`);
  parts.push(
    `${r.name}: ${r.lines} line${r.lines === 1 ? "" : "s"}${formats.length ? ` (${formats.join(", ")})` : ""}, ${r.events} handshake event${r.events === 1 ? "" : "s"}`,
  );
  if (formats.length > 1) parts.push("mixed formats");
  if (r.precision !== undefined) parts.push(`timestamps to ${formatPrecision(r.precision)}`);
  if (r.clock === "monotonic") parts.push("monotonic clock (seconds since boot)");
  if (r.unrecognised.count > 0) {
    const first = r.unrecognised.examples[0]!;
    parts.push(
      `${r.unrecognised.count} line${r.unrecognised.count === 1 ? "" : "s"} not understood (first: line ${first.line} ${JSON.stringify(first.text)})`,
    );
  }
  if (r.tooLong > 0) parts.push(`${r.tooLong} over-long line${r.tooLong === 1 ? "" : "s"} skipped`);
  if (r.backwards.count > 0) {
    const f = r.backwards.first!;
    parts.push(
      `time goes backwards ${r.backwards.count} time${r.backwards.count === 1 ? "" : "s"} (first at line ${f.line}, by ${f.bySeconds.toFixed(3)} s)`,
    );
  }
  if (r.droppedEvents > 0) parts.push(`${r.droppedEvents} events beyond the limit not kept`);
  return parts.join("; ");
}

export function formatPrecision(seconds: number): string {
  if (seconds >= 1) return `${seconds} s`;
  if (seconds >= 1e-3) return `${Math.round(seconds * 1e3)} ms`;
  if (seconds >= 1e-6) return `${Math.round(seconds * 1e6)} µs`;
  return `${Math.round(seconds * 1e9)} ns`;
}
