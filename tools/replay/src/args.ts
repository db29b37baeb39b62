/** wiregate-replay's command line: exit codes, help, and argument parsing. */

import { type ParseArgsConfig, parseArgs } from "node:util";
import { FIELD_NAMES } from "@wiregate/analysis";
import type { Sink } from "./io.js";
import { type LogArg, parseLogArgs } from "./log-input.js";

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

export class UsageError extends Error {}

export function parse(argv: string[]): CommonArgs | "help" {
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
