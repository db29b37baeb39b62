/**
 * Reads a log of any supported format, in chunks, into handshake events and a report of what it
 * did not understand. Never throws on input; memory is bounded by the line limit, the event limit
 * and a few examples.
 */
import { parseKernelLine } from "./kernel-log.js";
import { LineSplitter } from "./line-splitter.js";
import type { LineExample, LogClock, LogEvent, LogFormat, LogReport } from "./log-event.js";
import { type PrefixTime, parsePrefix, stripHostTag } from "./log-prefix.js";
import { parseTraceLine } from "./trace-log.js";
import { parseWireGuardGoLine } from "./wireguard-go-log.js";

export interface LogReaderOptions {
  /** The log's name in events and reports (its side, or its file name). */
  name: string;
  /** The year for stamps without one (journal, syslog) when the line itself does not say. */
  year?: number;
  /** Events kept at most (the rest are counted). */
  maxEvents?: number;
  /** Longest line read, in characters. */
  maxLine?: number;
}

export interface ParsedLog {
  name: string;
  events: LogEvent[];
  report: LogReport;
}

const EXAMPLES = 5;
/** The boxed notice wireguard-go prints at start-up (e.g. that the kernel has WireGuard built in). */
const GO_BANNER = /^[┌│└].{0,120}[┐│┘]$/;
const EXAMPLE_CHARS = 160;
const TEXT_CHARS = 300;
const LISTED = 16;

type Body = Omit<LogEvent, "log" | "line" | "time" | "precision" | "clock" | "kind"> & {
  /** Undefined: a line of a known format that is not about the handshake. */
  kind?: LogEvent["kind"];
  time?: { seconds: number; precision: number; clock: LogClock; year?: number };
};

export class LogReader {
  readonly #o: Required<Omit<LogReaderOptions, "year">> & { year?: number };
  readonly #events: LogEvent[] = [];
  readonly #report: LogReport;
  readonly #splitter: LineSplitter;
  readonly #last: Partial<Record<LogClock, number>> = {};
  #year: number | undefined;

  constructor(options: LogReaderOptions) {
    this.#o = { maxEvents: 200_000, maxLine: 16_384, ...options };
    this.#year = options.year;
    this.#report = {
      name: options.name,
      formats: {},
      lines: 0,
      events: 0,
      otherLines: 0,
      unrecognised: { count: 0, examples: [] },
      tooLong: 0,
      backwards: { count: 0 },
      interfaces: [],
      peers: [],
      endpoints: [],
      droppedEvents: 0,
    };
    this.#splitter = new LineSplitter(
      (text, line) => this.#line(text, line),
      () => {
        this.#report.lines++;
        this.#report.tooLong++;
      },
      this.#o.maxLine,
    );
  }

  push(chunk: string): void {
    this.#splitter.push(chunk);
  }

  finish(): ParsedLog {
    this.#splitter.end();
    const r = this.#report;
    let best = 0;
    for (const [format, n] of Object.entries(r.formats) as [LogFormat, number][]) {
      if (n > best) {
        best = n;
        r.format = format;
      }
    }
    return { name: this.#o.name, events: this.#events, report: r };
  }

  #line(text: string, line: number): void {
    const r = this.#report;
    r.lines++;
    if (text.trim() === "") return;
    const prefix = parsePrefix(text);
    let parsed = this.#body(prefix ? prefix.rest : text);
    if (!parsed && prefix) {
      const rest = stripHostTag(prefix.rest);
      if (rest !== undefined) parsed = this.#body(rest);
    }
    const time = parsed && this.#time(prefix, parsed);
    if (time && (r.clock === undefined || r.clock === time.clock)) {
      r.span ??= { first: time.seconds, last: time.seconds };
      r.span.first = Math.min(r.span.first, time.seconds);
      r.span.last = Math.max(r.span.last, time.seconds);
    }
    if (parsed && !parsed.kind) {
      r.formats[parsed.format] = (r.formats[parsed.format] ?? 0) + 1;
      r.otherLines++;
      return;
    }
    const kind = parsed?.kind;
    if (!parsed || !time || !kind) {
      r.unrecognised.count++;
      if (r.unrecognised.examples.length < EXAMPLES)
        r.unrecognised.examples.push(example(line, text));
      return;
    }
    r.formats[parsed.format] = (r.formats[parsed.format] ?? 0) + 1;
    const last = this.#last[time.clock];
    if (last !== undefined && time.seconds < last) {
      r.backwards.count++;
      r.backwards.first ??= { line, bySeconds: last - time.seconds };
    }
    this.#last[time.clock] = time.seconds;
    r.clock ??= time.clock;
    r.precision = Math.max(r.precision ?? 0, time.precision);
    if (parsed.interface) addBounded(r.interfaces, parsed.interface);
    if (parsed.peer) addBounded(r.peers, parsed.peer);
    if (parsed.endpoint) addBounded(r.endpoints, parsed.endpoint);
    r.events++;
    if (this.#events.length >= this.#o.maxEvents) {
      r.droppedEvents++;
      return;
    }
    const { time: _t, ...body } = parsed;
    this.#events.push({
      ...body,
      kind,
      log: this.#o.name,
      line,
      time: time.seconds,
      precision: time.precision,
      clock: time.clock,
      text: body.text.slice(0, TEXT_CHARS),
    });
  }

  /** The event's time: the prefix's when there is one (it is at least as fine), else the line's own. */
  #time(
    prefix: PrefixTime | undefined,
    parsed: Body,
  ): { seconds: number; precision: number; clock: LogClock } | undefined {
    if (parsed.time?.year !== undefined) this.#year = parsed.time.year;
    if (prefix) {
      if (!prefix.yearless) return prefix;
      const year = parsed.time?.year ?? this.#year ?? 1970;
      return { seconds: prefix.yearless(year), precision: prefix.precision, clock: prefix.clock };
    }
    return parsed.time;
  }

  #body(text: string): Body | undefined {
    if (GO_BANNER.test(text)) return { format: "wireguard-go", level: "info", text };
    const go = parseWireGuardGoLine(text);
    if (go) {
      const body: Body = {
        format: "wireguard-go",
        kind: go.kind,
        level: go.level,
        interface: go.interface,
        text: go.message,
        time: { seconds: go.seconds, precision: 1, clock: "wall", year: go.year },
      };
      copyDefined(body, go, ["peer", "endpoint", "detail", "number"]);
      return body;
    }
    const kernel = parseKernelLine(text);
    if (kernel) {
      const body: Body = {
        format: "kernel",
        kind: kernel.kind,
        level: "debug",
        interface: kernel.interface,
        text: kernel.message,
      };
      copyDefined(body, kernel, ["peer", "endpoint", "number"]);
      return body;
    }
    const trace = parseTraceLine(text);
    if (trace) {
      const body: Body = {
        format: "trace",
        kind: trace.kind,
        level: trace.level,
        text: trace.message,
        time: { seconds: trace.seconds, precision: trace.precision, clock: trace.clock },
      };
      copyDefined(body, trace, ["peer", "detail"]);
      return body;
    }
    return undefined;
  }
}

function copyDefined<T extends object>(to: object, from: T, keys: (keyof T & string)[]): void {
  for (const key of keys) {
    const value = from[key];
    if (value !== undefined) (to as Record<string, unknown>)[key] = value;
  }
}

function addBounded(list: string[], value: string): void {
  if (list.length < LISTED && !list.includes(value)) list.push(value.slice(0, 80));
}

/** A line as an example: bounded, with control characters made visible. */
function example(line: number, text: string): LineExample {
  const clean = text
    .slice(0, EXAMPLE_CHARS)
    .replace(
      /[\u0000-\u001f\u007f]/g,
      (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
    );
  return { line, text: text.length > EXAMPLE_CHARS ? `${clean}…` : clean };
}

/** Parses a whole log held in memory. */
export function parseLog(text: string, options: LogReaderOptions): ParsedLog {
  const reader = new LogReader(options);
  reader.push(text);
  return reader.finish();
}
