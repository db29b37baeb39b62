/** `analyze`: handshakes, collisions, retries and verdicts per peer pair. */

import { Analyzer, type KeyMaterial, renderAnalysis } from "@wiregate/analysis";
import type { CommonArgs } from "./args.js";
import { type MessageStreamResult, type Progress, streamMessages } from "./input.js";
import type { BufferedOut } from "./io.js";

export async function analyze(
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
