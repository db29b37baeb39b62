/** Text report of one log aligned with a capture. */
import { type DecodedMessage, formatPrecision, type LogAlignment } from "@wiregate/analysis";

export function renderAlignment(a: LogAlignment, messages: readonly DecodedMessage[]): string {
  const lines: string[] = [];
  const matched = a.matches.length - a.linesWithoutFrame.length;
  const sign = a.offsetSeconds >= 0 ? "+" : "−";
  lines.push(
    `Log ${a.log} is ${a.endpoint} (peer ${a.peerEndpoint}; found by ${a.sideBy}); its clock ${sign}${Math.abs(a.offsetSeconds).toFixed(6)} s from the capture's; ${matched} of ${a.matches.length} lines matched to frames, largest difference ${(a.maxResidualSeconds * 1000).toFixed(3)} ms (timestamps to ${formatPrecision(a.precision)})`,
  );
  if (a.outsideCapture > 0)
    lines.push(
      `  (${a.outsideCapture} line${a.outsideCapture === 1 ? "" : "s"} before or after the capture)`,
    );
  const byFrame = new Map(messages.map((m) => [m.frame, m]));
  for (const x of a.matches) {
    if (x.frame === undefined && !a.linesWithoutFrame.includes(x)) continue;
    const frame = x.frame !== undefined ? byFrame.get(x.frame) : undefined;
    const where = frame
      ? `↔ frame ${frame.frame} at ${frame.time.toFixed(6)} s (${(x.residual! * 1000).toFixed(3)} ms)`
      : "✗ no frame in the capture";
    lines.push(`  line ${String(x.event.line).padEnd(5)} ${x.event.kind.padEnd(20)} ${where}`);
  }
  for (const f of a.framesWithoutLine) {
    const m = byFrame.get(f);
    lines.push(
      `  ✗ frame ${f}${m ? ` (${m.src} → ${m.dst}, type ${m.type}, ${m.time.toFixed(6)} s)` : ""}: no line of ${a.log} mentions it`,
    );
  }
  return lines.join("\n");
}
