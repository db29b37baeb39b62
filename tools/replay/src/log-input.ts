/**
 * `--log [NAME=]FILE` (repeatable, `-` for standard input): logs next to, or instead of, a capture.
 * analyze: the analysis from the logs (and the capture's, and each log aligned with the capture);
 * decode: the log lines as events, merged with the capture's frames when there is one.
 */
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { stdin } from "node:process";
import {
  Analyzer,
  alignLog,
  analyzeLogs,
  type DecodedMessage,
  describeReport,
  formatMessageLine,
  type KeyMaterial,
  type LogAlignment,
  LogReader,
  type ParsedLog,
  renderAnalysis,
  renderLogAnalysis,
  toWiresharkFields,
} from "@wiregate/analysis";
import type { BufferedOut } from "./io.js";
import { renderAlignment } from "./log-render.js";

export interface LogArg {
  name?: string;
  path: string;
}

export const EXIT_LOG_LINES = 4;

/** `A=FILE` names the side; a plain `FILE` is named from its content (interface) or file name. */
export function parseLogArgs(values: readonly string[]): LogArg[] {
  return values.map((value) => {
    const m = /^([A-Za-z][\w.-]{0,15})=(.+)$/.exec(value);
    return m ? { name: m[1]!, path: m[2]! } : { path: value };
  });
}

/** Reads each log in 1 MiB chunks; an unreadable file is reported and skipped. */
export async function readLogs(
  args: readonly LogArg[],
  err: BufferedOut,
): Promise<{ logs: ParsedLog[]; unreadable: number }> {
  const logs: ParsedLog[] = [];
  let unreadable = 0;
  const year = new Date().getUTCFullYear();
  for (const arg of args) {
    const reader = new LogReader({ name: arg.name ?? "?", year });
    try {
      const source =
        arg.path === "-" ? stdin : createReadStream(arg.path, { highWaterMark: 1 << 20 });
      source.setEncoding("utf8");
      for await (const chunk of source as AsyncIterable<string>) reader.push(chunk);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      err.line(
        `error: cannot read log ${arg.path}: ${code === "ENOENT" ? "no such file" : (code ?? (error as Error).message)}`,
      );
      unreadable++;
      continue;
    }
    const log = reader.finish();
    const name = arg.name ?? defaultName(log, arg.path, logs);
    logs.push(rename(log, name));
  }
  return { logs, unreadable };
}

function defaultName(log: ParsedLog, path: string, taken: readonly ParsedLog[]): string {
  const base =
    log.report.interfaces.length === 1
      ? log.report.interfaces[0]!
      : path === "-"
        ? "stdin"
        : basename(path);
  let name = base;
  for (let i = 2; taken.some((l) => l.name === name); i++) name = `${base}#${i}`;
  return name;
}

function rename(log: ParsedLog, name: string): ParsedLog {
  for (const e of log.events) e.log = name;
  log.report.name = name;
  return { ...log, name };
}

export interface LogCommand {
  command: string;
  /** The capture, or "" for logs alone. */
  file: string;
  json: boolean;
  count: number;
  logs: LogArg[];
}

export type CaptureSource = (
  file: string,
  options: { keys?: KeyMaterial; count: number },
  onMessage: (m: DecodedMessage) => Promise<void> | undefined,
) => Promise<{ error: string | undefined; messages: number; frames: number }>;

/** Runs analyze or decode with logs; resolves to the exit code. */
export async function runWithLogs(
  args: LogCommand,
  keys: KeyMaterial | undefined,
  out: BufferedOut,
  err: BufferedOut,
  streamMessages: CaptureSource,
): Promise<{ code: number; captureError?: string; messages: number; frames: number }> {
  const { logs, unreadable } = await readLogs(args.logs, err);
  let unrecognised = false;
  for (const log of logs) {
    err.line(describeReport(log.report));
    if (log.report.unrecognised.count > 0 || log.report.tooLong > 0) unrecognised = true;
  }
  // The capture's handshake messages and keepalives (what log lines can correspond to).
  const messages: DecodedMessage[] = [];
  const analyzer = new Analyzer();
  let capture = { error: undefined as string | undefined, messages: 0, frames: 0 };
  if (args.file !== "") {
    capture = await streamMessages(args.file, { keys, count: args.count }, (m) => {
      analyzer.add(m);
      if (m.type !== 4 || m.keepalive || args.command === "decode") messages.push(m);
      return undefined;
    });
  }
  const alignments = args.file === "" ? [] : logs.flatMap((log) => alignLog(log, messages) ?? []);
  if (args.command === "decode") decodeWithLogs(args, logs, messages, alignments, out);
  else {
    const analysis = analyzeLogs(logs);
    if (args.json) {
      if (args.file !== "")
        for (const pair of analyzer.finish().pairs) out.line(JSON.stringify({ capture: pair }));
      for (const pair of analysis.pairs) {
        const { sides, ...rest } = pair;
        out.line(
          JSON.stringify({
            logs: {
              ...rest,
              sides: sides.map((s) => ({
                log: s.log,
                peer: s.peer,
                initiations: s.initiations.length,
              })),
            },
          }),
        );
      }
      for (const a of alignments) out.line(JSON.stringify({ alignment: alignmentJson(a) }));
    } else {
      if (args.file !== "") out.line(`${renderAnalysis(analyzer.finish())}\n`);
      out.line(renderLogAnalysis(analysis));
      for (const a of alignments) out.line(`\n${renderAlignment(a, messages)}`);
    }
    if (args.file !== "")
      for (const log of logs)
        if (!alignments.some((a) => a.log === log.name))
          err.line(`${log.name}: no line could be matched to a frame of the capture`);
  }
  const code = unreadable > 0 ? 2 : unrecognised ? EXIT_LOG_LINES : 0;
  const result: { code: number; captureError?: string; messages: number; frames: number } = {
    code,
    messages: capture.messages,
    frames: capture.frames,
  };
  if (capture.error !== undefined) result.captureError = capture.error;
  return result;
}

function alignmentJson(a: LogAlignment) {
  return {
    log: a.log,
    endpoint: a.endpoint,
    peerEndpoint: a.peerEndpoint,
    sideBy: a.sideBy,
    offsetSeconds: a.offsetSeconds,
    precision: a.precision,
    matched: a.matches
      .filter((m) => m.frame !== undefined)
      .map((m) => ({ line: m.event.line, frame: m.frame, residual: m.residual })),
    linesWithoutFrame: a.linesWithoutFrame.map((m) => m.event.line),
    outsideCapture: a.outsideCapture,
    framesWithoutLine: a.framesWithoutLine,
    maxResidualSeconds: a.maxResidualSeconds,
  };
}

/** decode: log events (NDJSON or lines); with a capture, merged with the frames on its clock. */
function decodeWithLogs(
  args: LogCommand,
  logs: readonly ParsedLog[],
  messages: readonly DecodedMessage[],
  alignments: readonly LogAlignment[],
  out: BufferedOut,
): void {
  const t0 = messages[0] ? Number(messages[0].timestampNs / 1000n) / 1e6 - messages[0].time : 0;
  type Row = { t: number; text: string };
  const rows: Row[] = [];
  for (const m of messages)
    rows.push({
      t: m.time,
      text: args.json ? JSON.stringify(toWiresharkFields(m)) : formatMessageLine(m),
    });
  for (const log of logs) {
    const a = alignments.find((x) => x.log === log.name);
    const frameOf = new Map(a?.matches.map((x) => [x.event, x.frame]));
    for (const e of log.events) {
      const t = a ? e.time + a.offsetSeconds - t0 : e.time;
      const frame = frameOf.get(e);
      if (args.json)
        rows.push({ t, text: JSON.stringify({ ...e, ...(a ? { captureTime: t, frame } : {}) }) });
      else
        rows.push({
          t,
          text: `${"".padStart(6)} ${a ? t.toFixed(6).padStart(11) : e.time.toFixed(6)}  [${e.log} line ${e.line}] ${e.kind}: ${e.text}${lineMark(
            frame,
            a?.linesWithoutFrame.some((x) => x.event === e),
          )}`,
        });
    }
  }
  if (args.file !== "" && alignments.length === logs.length) rows.sort((x, y) => x.t - y.t);
  for (const r of rows) out.line(r.text);
}

function lineMark(frame: number | undefined, noFrame: boolean | undefined): string {
  if (frame !== undefined) return `  ↔ frame ${frame}`;
  return noFrame ? "  ✗ no frame" : "";
}
