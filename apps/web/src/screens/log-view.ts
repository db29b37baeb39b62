/**
 * Logs on the Captures screen: a sequence diagram drawn from the logs alone (each side's lines on
 * its lane, crossings and stalls marked), and, next to a capture, each log line beside its frame.
 */
import type { LogAlignment, LogEvent, LogPairAnalysis } from "@wiregate/analysis";
import { h } from "../dom.js";
import { s } from "./svg.js";

const SENT: Partial<Record<LogEvent["kind"], string>> = {
  "initiation-sent": "initiation",
  "response-sent": "response",
  "keepalive-sent": "data",
  "cookie-sent": "response",
};

/** The log lines matched to each frame, as short notes for the capture's diagram. */
export function frameNotes(alignments: readonly LogAlignment[]): Map<number, string[]> {
  const notes = new Map<number, string[]>();
  for (const a of alignments)
    for (const m of a.matches) {
      if (m.frame === undefined) continue;
      const list = notes.get(m.frame) ?? [];
      list.push(`${a.log} line ${m.event.line}: ${m.event.kind}`);
      notes.set(m.frame, list);
    }
  return notes;
}

/** What each log says about the capture: offset, matches, disagreements. */
export function alignmentList(alignments: readonly LogAlignment[]): HTMLElement {
  return h(
    "ul",
    { class: "verdicts", "data-testid": "alignments" },
    alignments.map((a) =>
      h(
        "li",
        { class: a.linesWithoutFrame.length || a.framesWithoutLine.length ? "warn" : "" },
        `${a.log} is ${a.endpoint}; clock ${a.offsetSeconds >= 0 ? "+" : "−"}${Math.abs(a.offsetSeconds).toFixed(6)} s from the capture's; ${a.matches.length - a.linesWithoutFrame.length - a.outsideCapture} lines on their frames`,
        a.linesWithoutFrame.length
          ? `; lines with no frame: ${a.linesWithoutFrame.map((m) => m.event.line).join(", ")}`
          : "",
        a.framesWithoutLine.length
          ? `; frames no line mentions: ${a.framesWithoutLine.join(", ")}`
          : "",
      ),
    ),
  );
}

/** One pair from its logs: rows in time order (or log order), not to scale. */
export function logDiagram(pair: LogPairAnalysis): SVGSVGElement {
  const events = pair.sides.flatMap((side) => side.events).slice(0, 400);
  if (pair.sharedClock) events.sort((a, b) => a.time - b.time);
  const lanes = pair.sides.map((side) => side.log);
  if (lanes.length === 1) lanes.push("peer");
  const W = 620;
  const x = [200, 470];
  const top = 56;
  const rowH = 30;
  const H = top + events.length * rowH + 16;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "sequence from-logs", role: "img" });
  svg.setAttribute(
    "aria-label",
    `Sequence diagram from the logs of ${pair.name}: ${pair.collisions.length} collisions, ${pair.retries.length} retries`,
  );
  const rowOf = (log: string, line: number) =>
    events.findIndex((e) => e.log === log && e.line === line);
  const yOf = (i: number) => top + i * rowH + rowH / 2;
  const t0 = pair.firstInitiation?.time ?? events[0]?.time ?? 0;
  for (const c of pair.collisions) {
    const rows = [
      rowOf(c.first.log, c.first.line),
      c.second ? rowOf(c.second.log, c.second.line) : -1,
    ].filter((i) => i >= 0);
    if (rows.length === 0) continue;
    const y0 = yOf(Math.min(...rows)) - rowH / 2;
    const y1 = yOf(Math.max(...rows)) + rowH / 2;
    const g = s("g", { class: "collision", "data-mark": "collision" });
    g.append(
      s("rect", { x: x[0]! - 24, y: y0, width: x[1]! - x[0]! + 48, height: y1 - y0, rx: 6 }),
      s("text", { x: x[0]! - 28, y: y0 + 13, "text-anchor": "end" }, "collision"),
    );
    svg.append(g);
    const end = c.resolvedBy ?? c.answeredNext;
    const endRow = end ? rowOf(end.log, end.line) : -1;
    if (c.stallSeconds !== undefined && c.stallSeconds > 1 && endRow > Math.max(...rows)) {
      const sx = x[1]! + 34;
      const stall = s("g", { class: "stall", "data-mark": "stall" });
      stall.append(
        s("path", { d: `M${sx - 6},${y0} H${sx} V${yOf(endRow)} H${sx - 6}` }),
        s("text", { x: sx + 8, y: (y0 + yOf(endRow)) / 2, class: "small" }, "stalled"),
        s(
          "text",
          { x: sx + 8, y: (y0 + yOf(endRow)) / 2 + 15, class: "small" },
          `${c.stallSeconds.toFixed(2)} s`,
        ),
      );
      svg.append(stall);
    }
  }
  lanes.forEach((name, i) => {
    svg.append(
      s("line", { x1: x[i]!, y1: top - 10, x2: x[i]!, y2: H - 8, class: "lane" }),
      s("text", { x: x[i]!, y: 18, "text-anchor": "middle", class: "peer-name" }, name),
      s(
        "text",
        { x: x[i]!, y: 36, "text-anchor": "middle", class: "small" },
        i < pair.sides.length ? "log" : "(no log)",
      ),
    );
  });
  events.forEach((e, i) => {
    const y = yOf(i);
    const side = Math.max(0, lanes.indexOf(e.log));
    const [x1, x2] = [x[side]!, x[1 - side]!];
    const sent = SENT[e.kind];
    const bad =
      e.level === "error" || e.kind === "response-invalid" || e.kind === "initiation-invalid";
    const g = s("g", {
      class: `message log-line ${sent ?? "note"}${bad ? " bad" : ""}`,
      "data-log": e.log,
      "data-line": e.line,
    });
    g.append(
      s(
        "text",
        { x: 4, y: y + 4, class: "time" },
        pair.sharedClock || e.log === pair.firstInitiation?.log
          ? `${(e.time - t0).toFixed(4)} s`
          : "?",
      ),
    );
    if (sent)
      g.append(
        s("line", {
          x1,
          y1: y,
          x2,
          y2: y,
          class: `arrow ${sent}`,
          "marker-end": `url(#arrow-${sent})`,
        }),
      );
    else g.append(s("circle", { cx: x1, cy: y, r: 4, class: bad ? "dot bad" : "dot" }));
    g.append(
      s(
        "text",
        { x: (x[0]! + x[1]!) / 2, y: y - 5, "text-anchor": "middle" },
        `${e.kind}${e.kind === "retry" ? " ↻" : ""} · ${e.log} line ${e.line}`,
      ),
    );
    svg.append(g);
  });
  return svg;
}

export function renderLogPair(pair: LogPairAnalysis): HTMLElement {
  return h(
    "article",
    { class: "pair" },
    h("h3", {}, `From the logs: ${pair.name}`),
    h("div", { class: "diagram" }, logDiagram(pair)),
    h("h4", {}, "Verdicts from the logs"),
    h(
      "ul",
      { class: "verdicts", "data-testid": "log-verdicts" },
      pair.verdicts.map((v) =>
        h("li", { class: /collision|STALLED|stalled|rejected|race/.test(v) ? "warn" : "" }, v),
      ),
    ),
  );
}
