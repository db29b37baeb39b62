/**
 * The wiregate-replay commands, runnable in-process: `run(argv, io)` resolves to the exit code.
 * Data goes to stdout, progress, summaries and errors to stderr.
 */

import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { stdin } from "node:process";
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  Analyzer,
  type DecodedMessage,
  FIELD_NAMES,
  fieldGetter,
  formatMessageLine,
  KeyMaterial,
  renderAnalysis,
  toWiresharkFields,
  WireGuardDecoder,
} from "@wiregate/analysis";
import { CaptureReader, type CaptureRecord, PcapngWriter } from "@wiregate/capture";
import { nodeCrypto } from "@wiregate/core/node";
import { BufferedOut, type Sink } from "./io.js";
import { type LogArg, parseLogArgs, runWithLogs } from "./log-input.js";
import { runReplay } from "./replay-command.js";

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_BAD_KEYS = 3;
export { EXIT_LOG_LINES } from "./log-input.js";

export interface Io {
  stdout: Sink;
  stderr: Sink;
}

export const HELP = `wiregate-replay — decode, analyze, replay and export WireGuard captures

Usage:
  wiregate-replay decode  FILE [--keylog K] [--json] [-c N]
  wiregate-replay analyze FILE [--keylog K] [--json] [-c N]
  wiregate-replay analyze [FILE] --log [SIDE=]LOG … [--keylog K] [--json]
  wiregate-replay decode  [FILE] --log [SIDE=]LOG … [--keylog K] [--json]
  wiregate-replay replay  FILE [--keylog K] [--model wiregate|wireguard-go] [--json] [-c N]
  wiregate-replay export  FILE --keylog K -w OUT.pcapng

FILE is a pcap or pcapng file; "-" (or -r -) reads standard input.
LOG is a wireguard-go log (optionally behind a journal, ts or Unix-time stamp), a kernel log
(dmesg, journalctl -k) or our trace events as NDJSON; "-" reads standard input.

Options:
  -r, --read FILE     the capture (instead of the positional FILE)
  -k, --keylog K      Wireshark-format WireGuard key log (LOCAL_STATIC_PRIVATE_KEY = …, …)
      --json          NDJSON: one JSON object per line (Wireshark field names: wg.type, wg.sender, …)
  -c, --count N       stop after N WireGuard messages
  -l, --log [SIDE=]LOG  a log of one side (repeatable); SIDE names it (else its interface or
                      file name); with a capture, each log is aligned with the capture's frames
  -m, --model M       replay engine: wiregate (our core, default) or wireguard-go (a model of it)
  -e, --field NAME    decode: print these fields tab-separated, like tshark -T fields -e NAME
                      (repeatable; wg.type, wg.sender, wg.receiver, wg.counter, wg.handshake_ok, …)
  -w, --write OUT     export: the pcapng to write (the key log goes in as a Decryption Secrets Block)
  -h, --help          this help

Data goes to stdout; a progress bar (long files on a terminal) and a summary go to stderr.

Examples:
  wiregate-replay decode capture.pcapng --keylog keys.txt
  wiregate-replay decode -r - --json < capture.pcap | jq 'select(."wg.type" == 2)'
  wiregate-replay decode capture.pcap -e wg.type -e wg.sender -e wg.receiver -e wg.counter
  wiregate-replay analyze collision.pcapng --keylog keys.txt
  wiregate-replay replay collision.pcapng --keylog keys.txt --model wireguard-go
  wiregate-replay export capture.pcap --keylog keys.txt -w decrypted.pcapng && tshark -r decrypted.pcapng

Exit codes:
  0  success
  1  usage error (unknown command or option, missing argument)
  2  the capture is unreadable, truncated or corrupt (everything readable before the damage is
     still printed)
  3  bad key material (unreadable key log, or lines that are not valid key log entries; the valid
     entries are still used)
  4  a log has lines in no known format, or over-long lines (reported on stderr: how many, the
     first few; everything understood is still analysed)
  (an unreadable log file gives 2)
`;

const OPTIONS = {
  read: { type: "string", short: "r" },
  keylog: { type: "string", short: "k" },
  json: { type: "boolean" },
  count: { type: "string", short: "c" },
  model: { type: "string", short: "m" },
  write: { type: "string", short: "w" },
  help: { type: "boolean", short: "h" },
  field: { type: "string", short: "e", multiple: true },
  log: { type: "string", short: "l", multiple: true },
} satisfies ParseArgsConfig["options"];

export interface CommonArgs {
  command: string;
  file: string;
  keylog: string | undefined;
  json: boolean;
  count: number;
  model: string;
  write: string | undefined;
  fields: string[];
  /** `--log`: logs next to (or instead of) the capture; `file` is "" when there is no capture. */
  logs: LogArg[];
}

class UsageError extends Error {}

function parse(argv: string[]): CommonArgs | "help" {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  const [command, ...rest] = positionals;
  if (command === undefined)
    throw new UsageError("missing command (decode, analyze, replay or export)");
  if (!["decode", "analyze", "replay", "export"].includes(command)) {
    throw new UsageError(
      `unknown command '${command}' (expected decode, analyze, replay or export)`,
    );
  }
  if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}'`);
  const file = values.read ?? rest[0];
  if (values.read !== undefined && rest.length > 0)
    throw new UsageError("give the capture either as FILE or with -r, not both");
  const logs = parseLogArgs(values.log ?? []);
  if (logs.length > 0 && command !== "analyze" && command !== "decode")
    throw new UsageError("--log applies to analyze and decode");
  if ([file, ...logs.map((l) => l.path)].filter((p) => p === "-").length > 1)
    throw new UsageError("only one input can be standard input (-)");
  if (file === undefined && logs.length === 0)
    throw new UsageError(`${command}: missing capture FILE (use - for standard input)`);
  let count = Number.POSITIVE_INFINITY;
  if (values.count !== undefined) {
    if (!/^[0-9]+$/.test(values.count))
      throw new UsageError(`-c: expected a non-negative integer, got '${values.count}'`);
    count = Number(values.count);
  }
  const model = values.model ?? "wiregate";
  if (model !== "wiregate" && model !== "wireguard-go") {
    throw new UsageError(`--model: expected wiregate or wireguard-go, got '${model}'`);
  }
  if (values.model !== undefined && command !== "replay")
    throw new UsageError("--model applies to replay only");
  if (command === "export") {
    if (values.write === undefined) throw new UsageError("export: missing -w OUT.pcapng");
    if (values.keylog === undefined) throw new UsageError("export: missing --keylog K");
  } else if (values.write !== undefined) throw new UsageError("-w applies to export only");
  const fields = values.field ?? [];
  for (const f of fields) {
    if (!(FIELD_NAMES as readonly string[]).includes(f)) {
      throw new UsageError(`-e: unknown field '${f}' (one of ${FIELD_NAMES.join(", ")})`);
    }
  }
  if (fields.length > 0 && (command !== "decode" || values.json)) {
    throw new UsageError("-e applies to decode without --json");
  }
  return {
    fields,
    command,
    file: file ?? "",
    logs,
    keylog: values.keylog,
    json: values.json ?? false,
    count,
    model,
    write: values.write,
  };
}

/** Loads and validates a key log; problems are reported on stderr. */
export async function loadKeys(
  path: string,
  err: BufferedOut,
): Promise<{ keys: KeyMaterial; text: string; ok: boolean }> {
  const keys = new KeyMaterial(nodeCrypto);
  let text: string;
  try {
    text = path === "-" ? "" : await readFile(path, "utf8");
  } catch (error) {
    err.line(
      `error: cannot read key log ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
    return { keys, text: "", ok: false };
  }
  keys.addKeyLog(text, path);
  let ok = true;
  for (const e of keys.errors) {
    err.line(`error: ${path}:${e.line}: ${e.message}`);
    ok = false;
  }
  if (keys.size === 0 && ok) {
    err.line(`error: ${path}: no keys (expected lines like 'LOCAL_STATIC_PRIVATE_KEY = base64')`);
    ok = false;
  }
  return { keys, text, ok };
}

/** Progress on stderr: only on a terminal, and only for long files. */
class Progress {
  #last = 0;
  #shown = false;
  constructor(
    readonly stderr: Sink,
    readonly size: number,
  ) {}
  static async for(file: string, stderr: Sink): Promise<Progress | undefined> {
    if (!stderr.isTTY || file === "-") return undefined;
    try {
      const { size } = await stat(file);
      return size >= 16 << 20 ? new Progress(stderr, size) : undefined;
    } catch {
      return undefined;
    }
  }
  update(offset: number, messages: number): void {
    const now = Date.now();
    if (now - this.#last < 200) return;
    this.#last = now;
    const fraction = Math.min(1, offset / this.size);
    const width = 30;
    const filled = Math.round(fraction * width);
    this.stderr.write(
      `\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${messages} messages`,
    );
    this.#shown = true;
  }
  done(): void {
    if (this.#shown) this.stderr.write(`\r${" ".repeat(60)}\r`);
  }
}

export interface MessageStreamResult {
  error: string | undefined;
  messages: number;
  frames: number;
}

/**
 * Reads a capture and calls `onMessage` for each WireGuard message (in order), stopping after
 * `count`. A damaged capture ends the stream with `error` set (after every readable message).
 */
export async function streamMessages(
  file: string,
  options: {
    keys?: KeyMaterial;
    count: number;
    keepPlaintext?: boolean;
    keepPayload?: boolean;
    progress?: Progress | undefined;
  },
  onMessage: (m: DecodedMessage) => Promise<void> | undefined,
  onRecord?: (r: CaptureRecord) => void,
): Promise<MessageStreamResult> {
  const decoder = new WireGuardDecoder({
    keys: options.keys,
    keepPlaintext: options.keepPlaintext,
    keepPayload: options.keepPayload,
  });
  let error: string | undefined;
  // The reader is pushed file chunks and drained synchronously: no promise per record.
  const reader = new CaptureReader();
  const handle = (record: CaptureRecord): boolean | Promise<void> => {
    if (record.kind === "error") {
      error = record.error.message;
      return true;
    }
    onRecord?.(record);
    const m = decoder.record(record);
    if (record.kind === "packet") options.progress?.update(record.offset, decoder.messages);
    if (m === undefined) return false;
    const pending = onMessage(m);
    if (decoder.messages >= options.count) return pending ? pending.then(() => stop()) : true;
    return pending ?? false;
  };
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  try {
    const source = file === "-" ? stdin : createReadStream(file, { highWaterMark: 1 << 20 });
    outer: for await (const chunk of source as AsyncIterable<Uint8Array>) {
      reader.push(chunk);
      for (let r = reader.next(); r !== undefined; r = reader.next()) {
        let verdict = handle(r);
        if (verdict instanceof Promise) {
          await verdict;
          verdict = stopped;
        }
        if (verdict === true) break outer;
      }
      if (reader.done) break;
    }
    if (!stopped && error === undefined && decoder.messages < options.count) {
      reader.end();
      for (let r = reader.next(); r !== undefined; r = reader.next()) {
        let verdict = handle(r);
        if (verdict instanceof Promise) {
          await verdict;
          verdict = stopped;
        }
        if (verdict === true) break;
      }
    }
    if (file !== "-" && "destroy" in source) (source as { destroy(): void }).destroy();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    error = code
      ? `cannot read ${file}: ${code === "ENOENT" ? "no such file" : code}`
      : (e as Error).message;
  }
  options.progress?.done();
  return { error, messages: decoder.messages, frames: decoder.frames };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const out = new BufferedOut(io.stdout, 1 << 18);
  const err = new BufferedOut(io.stderr, 0);
  let args: CommonArgs | "help";
  try {
    args = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err.line(`wiregate-replay: ${error.message}`);
    err.line("Try 'wiregate-replay --help'.");
    return EXIT_USAGE;
  }
  if (args === "help") {
    out.line(HELP.trimEnd());
    await out.flush();
    return EXIT_OK;
  }
  let keys: KeyMaterial | undefined;
  let keyText = "";
  let keysOk = true;
  if (args.keylog !== undefined) {
    const loaded = await loadKeys(args.keylog, err);
    keys = loaded.keys;
    keyText = loaded.text;
    keysOk = loaded.ok;
    if (args.command === "export" && !keysOk) return EXIT_BAD_KEYS;
  } else if (args.command !== "export") {
    // Keys embedded in the capture (pcapng DSB) still decrypt, as in Wireshark.
    keys = new KeyMaterial(nodeCrypto);
  }
  if (args.logs.length > 0) {
    const result = await runWithLogs(args, keys, out, err, (file, options, onMessage) =>
      streamMessages(file, options, onMessage),
    );
    await out.flush();
    if (result.captureError !== undefined) {
      err.line(`error: ${result.captureError}`);
      return EXIT_BAD_INPUT;
    }
    if (!keysOk) return EXIT_BAD_KEYS;
    return result.code;
  }
  const progress = await Progress.for(args.file, io.stderr);
  let result: MessageStreamResult;
  switch (args.command) {
    case "decode":
      result = await decode(args, keys, out, err, progress);
      break;
    case "analyze":
      result = await analyze(args, keys, out, progress);
      break;
    case "replay":
      result = await runReplay(args, keys, out, err, progress);
      break;
    default:
      result = await exportCapture(args, keyText, err, progress);
  }
  await out.flush();
  if (result.error !== undefined) {
    err.line(`error: ${result.error}`);
    err.line(
      `(everything readable before the damage was reported: ${result.messages} WireGuard messages in ${result.frames} frames)`,
    );
    return EXIT_BAD_INPUT;
  }
  if (!keysOk) return EXIT_BAD_KEYS;
  return EXIT_OK;
}

async function decode(
  args: CommonArgs,
  keys: KeyMaterial | undefined,
  out: BufferedOut,
  err: BufferedOut,
  progress: Progress | undefined,
): Promise<MessageStreamResult> {
  const counts = [0, 0, 0, 0, 0];
  let decrypted = 0;
  let failed = 0;
  const getters = args.fields.map(fieldGetter);
  const result = await streamMessages(args.file, { keys, count: args.count, progress }, (m) => {
    counts[m.type]!++;
    if (m.decrypted === true) decrypted++;
    else if (m.decrypted === false) failed++;
    if (getters.length > 0) {
      let line = getters[0]!(m);
      for (let i = 1; i < getters.length; i++) line += `\t${getters[i]!(m)}`;
      return out.line(line);
    }
    return out.line(args.json ? JSON.stringify(toWiresharkFields(m)) : formatMessageLine(m));
  });
  await out.flush();
  const summary = `${result.messages} WireGuard messages in ${result.frames} frames: ${counts[1]} initiations, ${counts[2]} responses, ${counts[3]} cookie replies, ${counts[4]} transport (${decrypted} decrypted${failed ? `, ${failed} failed to decrypt` : ""})`;
  err.line(summary);
  return result;
}

async function analyze(
  args: CommonArgs,
  keys: KeyMaterial | undefined,
  out: BufferedOut,
  progress: Progress | undefined,
): Promise<MessageStreamResult> {
  const analyzer = new Analyzer();
  const result = await streamMessages(args.file, { keys, count: args.count, progress }, (m) => {
    analyzer.add(m);
    return undefined;
  });
  const analysis = analyzer.finish();
  if (args.json) {
    for (const pair of analysis.pairs) out.line(JSON.stringify(pair));
  } else {
    out.line(renderAnalysis(analysis));
  }
  return result;
}

async function exportCapture(
  args: CommonArgs,
  keyText: string,
  err: BufferedOut,
  progress: Progress | undefined,
): Promise<MessageStreamResult> {
  const { open } = await import("node:fs/promises");
  const writer = new PcapngWriter({ userApplication: "wiregate-replay export" });
  const interfaces = new Map<string, number>();
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(args.write!, "w");
  } catch (e) {
    return {
      error: `cannot write ${args.write}: ${(e as NodeJS.ErrnoException).code}`,
      messages: 0,
      frames: 0,
    };
  }
  const chunks: Uint8Array[] = [];
  let buffered = 0;
  const push = async (bytes: Uint8Array) => {
    chunks.push(bytes);
    buffered += bytes.length;
    if (buffered >= 1 << 20) await flush();
  };
  const flush = async () => {
    if (chunks.length === 0) return;
    const all = new Uint8Array(buffered);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    chunks.length = 0;
    buffered = 0;
    await handle.write(all);
  };
  await push(writer.writeWireGuardKeyLog(keyText.endsWith("\n") ? keyText : `${keyText}\n`));
  let pending: Promise<void> = Promise.resolve();
  let frames = 0;
  const result = await streamMessages(
    args.file,
    { count: args.count, progress },
    () => pending,
    (record) => {
      if (record.kind !== "packet") return;
      frames++;
      const key = `${record.interfaceId}/${record.linkType}`;
      let id = interfaces.get(key);
      if (id === undefined) {
        id = interfaces.size;
        interfaces.set(key, id);
        const idb = writer.addInterface({ linkType: record.linkType });
        chunks.push(idb);
        buffered += idb.length;
      }
      const block = writer.writePacket({
        interfaceId: id,
        timestampNs: record.timestampNs,
        data: record.data,
        originalLength: Math.max(record.originalLength, record.data.length),
      });
      chunks.push(block);
      buffered += block.length;
      if (buffered >= 1 << 20) pending = flush();
      else pending = Promise.resolve();
    },
  );
  await pending;
  await flush();
  await handle.close();
  err.line(
    `wrote ${args.write}: ${frames} frames (${result.messages} WireGuard messages) with the key log as a Decryption Secrets Block`,
  );
  return result;
}
