/** `replay`: the captured schedule re-enacted through our engine, or a model of wireguard-go. */

import {
  type DecodedMessage,
  type KeyMaterial,
  renderReplay,
  replayCapture,
} from "@wiregate/analysis";
import type { CommonArgs } from "./args.js";
import type { MessageStreamResult } from "./input.js";
import { streamMessages } from "./input.js";
import type { BufferedOut } from "./io.js";

/** replay: the conversation is held in memory (it is re-enacted as a whole). */
export async function runReplay(
  args: CommonArgs,
  keys: KeyMaterial | undefined,
  out: BufferedOut,
  err: BufferedOut,
  progress: Parameters<typeof streamMessages>[1]["progress"],
): Promise<MessageStreamResult> {
  const messages: DecodedMessage[] = [];
  const result = await streamMessages(
    args.file,
    { keys, count: args.count, keepPayload: true, keepPlaintext: true, progress },
    (m) => {
      messages.push(m);
      return undefined;
    },
  );
  const replay = replayCapture(messages, {
    model: args.model as "wiregate" | "wireguard-go",
    keys,
  });
  if (args.json) {
    for (const m of replay.messages) out.line(JSON.stringify(m));
    const { lines: _lines, messages: _messages, ...outcome } = replay;
    out.line(JSON.stringify({ outcome }));
  } else out.line(renderReplay(replay));
  err.line(
    `replayed ${messages.length} captured messages with ${args.model}: ${replay.bothWaysAt === undefined ? "data never flowed both ways" : replay.stalled ? `stalled ${replay.stallSeconds!.toFixed(2)} s` : "no stall"}`,
  );
  return result;
}
