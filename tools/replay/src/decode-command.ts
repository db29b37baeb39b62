/** `decode`: every WireGuard message, one line (or NDJSON record, or -e fields) each. */

import {
  fieldGetter,
  formatMessageLine,
  type KeyMaterial,
  toWiresharkFields,
} from "@wiregate/analysis";
import type { CommonArgs } from "./args.js";
import { type MessageStreamResult, type Progress, streamMessages } from "./input.js";
import type { BufferedOut } from "./io.js";

export async function decode(
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
