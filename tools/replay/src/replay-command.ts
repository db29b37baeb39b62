import type { KeyMaterial } from "@wiregate/analysis";
import type { CommonArgs, MessageStreamResult } from "./commands.js";
import type { BufferedOut } from "./io.js";

export async function runReplay(
  _args: CommonArgs,
  _keys: KeyMaterial | undefined,
  _out: BufferedOut,
  _err: BufferedOut,
  _progress: unknown,
): Promise<MessageStreamResult> {
  return { error: undefined, messages: 0, frames: 0 };
}
