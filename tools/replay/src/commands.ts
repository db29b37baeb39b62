/**
 * The wiregate-replay commands, runnable in-process: `run(argv, io)` resolves to the exit code.
 * Data goes to stdout, progress, summaries and errors to stderr.
 */

import { KeyMaterial } from "@wiregate/analysis";
import { nodeCrypto } from "@wiregate/core/node";
import { analyze } from "./analyze-command.js";
import {
  type CommonArgs,
  EXIT_BAD_INPUT,
  EXIT_BAD_KEYS,
  EXIT_OK,
  EXIT_USAGE,
  HELP,
  type Io,
  parse,
  UsageError,
} from "./args.js";
import { decode } from "./decode-command.js";
import { exportCapture } from "./export-command.js";
import { loadKeys, type MessageStreamResult, Progress, streamMessages } from "./input.js";
import { BufferedOut } from "./io.js";
import { runWithLogs } from "./log-input.js";
import { runReplay } from "./replay-command.js";

export { EXIT_BAD_INPUT, EXIT_BAD_KEYS, EXIT_OK, EXIT_USAGE, HELP, type Io } from "./args.js";
export { EXIT_LOG_LINES } from "./log-input.js";

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
