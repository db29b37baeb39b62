/**
 * Captures: drop a pcap/pcapng (and optionally a key log); the replay tool's analysis runs in a
 * worker in this page — nothing is uploaded — and each peer pair is drawn as a sequence diagram
 * with collisions, retries, unused responses and stalls marked, followed by the verdicts.
 */
import type { PairAnalysis } from "@wiregate/analysis";
import type { AnalysisReply, AnalysisRequest } from "../analysis-worker.js";
import { field, h, replace } from "../dom.js";
import { alignmentList, frameNotes, renderLogPair } from "./log-view.js";
import { arrowMarkers, s } from "./svg.js";

const seconds = (t: number) => `${t.toFixed(4)} s`;
const duration = (t: number) => (t < 1 ? `${(t * 1000).toFixed(2)} ms` : `${t.toFixed(2)} s`);

interface Row {
  /** Capture seconds. */
  timeSeconds: number;
  frame: number;
  from: "A" | "B";
  kind: "initiation" | "response" | "data";
  label: string;
  marks: ("retry" | "crossed" | "unused")[];
}

function rowsOf(pair: PairAnalysis): Row[] {
  const rows: Row[] = [];
  for (const hs of pair.handshakes) {
    const other = hs.initiator === "A" ? "B" : "A";
    rows.push({
      timeSeconds: hs.initiationTime,
      frame: hs.initiationFrame,
      from: hs.initiator,
      kind: "initiation",
      label: `initiation #${hs.initiationFrame}${hs.retry ? ` · retry of #${hs.retry.of}` : ""}${hs.rekey ? " · rekey" : ""}`,
      marks: [
        ...(hs.retry ? (["retry"] as const) : []),
        ...(hs.crossedWith !== undefined ? (["crossed"] as const) : []),
      ],
    });
    if (hs.response) {
      const unused = !hs.initiatorDataAt && !hs.responderDataAt;
      rows.push({
        timeSeconds: hs.response.time,
        frame: hs.response.frame,
        from: other,
        kind: "response",
        label: `response #${hs.response.frame}${unused ? " · never used" : ""}`,
        marks: unused ? ["unused"] : [],
      });
    }
    if (hs.initiatorDataAt) {
      rows.push({
        timeSeconds: hs.initiatorDataAt.time,
        frame: hs.initiatorDataAt.frame,
        from: hs.initiator,
        kind: "data",
        label: `first data #${hs.initiatorDataAt.frame}`,
        marks: [],
      });
    }
    if (hs.responderDataAt) {
      rows.push({
        timeSeconds: hs.responderDataAt.time,
        frame: hs.responderDataAt.frame,
        from: other,
        kind: "data",
        label: `first data #${hs.responderDataAt.frame}`,
        marks: [],
      });
    }
  }
  return rows.sort((a, b) => a.timeSeconds - b.timeSeconds || a.frame - b.frame);
}

/** One peer pair as an SVG sequence diagram (rows in time order, not to scale). */
export function sequenceDiagram(
  pair: PairAnalysis,
  notes: ReadonlyMap<number, string[]> = new Map(),
): SVGSVGElement {
  const rows = rowsOf(pair);
  const W = 620;
  const laneA = 200;
  const laneB = 470;
  const top = 56;
  const rowH = 38;
  const H = top + rows.length * rowH + 16;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "sequence", role: "img" });
  svg.setAttribute(
    "aria-label",
    `Sequence diagram of ${pair.name}: ${pair.handshakes.length} handshakes, ${pair.collisions.length} collisions, ${pair.retries.length} retries`,
  );
  svg.append(arrowMarkers());
  const yOf = (index: number) => top + index * rowH + rowH / 2 + 6;
  const indexOfFrame = (frame: number) => rows.findIndex((r) => r.frame === frame);

  // Collisions: a band over the crossing initiations.
  for (const c of pair.collisions) {
    const a = indexOfFrame(c.first);
    const b = indexOfFrame(c.second);
    if (a < 0 || b < 0) continue;
    const y0 = yOf(Math.min(a, b)) - rowH / 2 - 4;
    const y1 = yOf(Math.max(a, b)) + 8;
    const g = s("g", { class: "collision", "data-mark": "collision" });
    g.append(
      s("rect", { x: laneA - 24, y: y0, width: laneB - laneA + 48, height: y1 - y0, rx: 6 }),
      s("text", { x: laneA - 28, y: y0 + 13, "text-anchor": "end" }, "collision"),
      s(
        "text",
        { x: laneA - 28, y: y0 + 27, "text-anchor": "end", class: "small" },
        `${duration(c.gapMs / 1000)} apart`,
      ),
    );
    svg.append(g);
    // Stall: from the collision until data flowed both ways (when another handshake fixed it).
    if (c.stallSeconds !== undefined && c.resolvedBy) {
      const resolved = pair.handshakes.find((hs) => hs.initiationFrame === c.resolvedBy!.frame);
      const end = resolved
        ? Math.max(
            indexOfFrame(resolved.initiatorDataAt?.frame ?? -1),
            indexOfFrame(resolved.responderDataAt?.frame ?? -1),
          )
        : -1;
      if (end > Math.max(a, b) && c.stallSeconds > 1) {
        const x = laneB + 34;
        const ys = yOf(Math.min(a, b)) - 6;
        const ye = yOf(end);
        const stall = s("g", { class: "stall", "data-mark": "stall" });
        stall.append(
          s("path", { d: `M${x - 6},${ys} H${x} V${ye} H${x - 6}` }),
          s("text", { x: x + 8, y: (ys + ye) / 2, class: "small" }, "stalled"),
          s("text", { x: x + 8, y: (ys + ye) / 2 + 15, class: "small" }, duration(c.stallSeconds)),
        );
        svg.append(stall);
      }
    }
  }

  // Lanes.
  for (const [x, peer] of [
    [laneA, pair.peers[0]],
    [laneB, pair.peers[1]],
  ] as const) {
    svg.append(
      s("line", { x1: x, y1: top - 10, x2: x, y2: H - 8, class: "lane" }),
      s("text", { x, y: 18, "text-anchor": "middle", class: "peer-name" }, `${peer.label}`),
      s("text", { x, y: 36, "text-anchor": "middle", class: "small" }, peer.endpoint),
    );
  }

  rows.forEach((row, index) => {
    const y = yOf(index);
    const [x1, x2] = row.from === "A" ? [laneA, laneB] : [laneB, laneA];
    const kind = row.marks.includes("unused") ? "unused" : row.kind;
    const g = s("g", {
      class: `message ${row.kind} ${row.marks.join(" ")}`,
      "data-frame": row.frame,
    });
    g.append(
      s("text", { x: 4, y: y + 4, class: "time" }, seconds(row.timeSeconds)),
      s("line", {
        x1,
        y1: y,
        x2,
        y2: y,
        class: `arrow ${kind}`,
        "marker-end": `url(#arrow-${kind})`,
      }),
      s("text", { x: (laneA + laneB) / 2, y: y - 6, "text-anchor": "middle" }, row.label),
    );
    const note = notes.get(row.frame);
    if (note) {
      g.append(
        s(
          "text",
          { x: (laneA + laneB) / 2, y: y + 13, "text-anchor": "middle", class: "small log-note" },
          note.join(" · "),
        ),
      );
    }
    if (row.marks.includes("retry")) {
      g.append(
        s(
          "text",
          {
            x: x1 + (row.from === "A" ? -8 : 8),
            y: y + 4,
            "text-anchor": row.from === "A" ? "end" : "start",
            class: "retry-mark",
          },
          "↻",
        ),
      );
    }
    svg.append(g);
  });
  return svg;
}

function renderPair(pair: PairAnalysis, notes: ReadonlyMap<number, string[]>): HTMLElement {
  const stalled = pair.timeToWorkingSeconds !== undefined && pair.timeToWorkingSeconds > 1;
  return h(
    "article",
    { class: "pair" },
    h("h3", {}, `Peer pair ${pair.name}`),
    h(
      "p",
      { class: "muted" },
      `${pair.handshakes.length} handshakes, ${pair.collisions.length} collisions, ${pair.retries.length} retries, ${pair.unusedResponses.length} unused responses, transport A→B ${pair.transport.AtoB}, B→A ${pair.transport.BtoA}`,
      stalled ? " — " : "",
      stalled ? h("strong", { class: "bad" }, "stalled") : "",
    ),
    h("div", { class: "diagram" }, sequenceDiagram(pair, notes)),
    h("h4", {}, "Verdicts"),
    h(
      "ul",
      { class: "verdicts", "data-testid": "verdicts" },
      pair.verdicts.map((v) =>
        h("li", { class: /collision|STALLED|stalled/.test(v) ? "warn" : "" }, v),
      ),
    ),
  );
}

export function capturesScreen(): HTMLElement {
  const capture = h("input", { type: "file", accept: ".pcap,.pcapng,.cap" });
  const keyLog = h("input", { type: "file", accept: ".txt,.log,text/plain" });
  const logs = h("input", {
    type: "file",
    multiple: true,
    accept: ".log,.txt,.ndjson,.json,text/plain",
  });
  const drop = h(
    "div",
    {
      class: "drop",
      tabindex: "0",
      role: "button",
      "aria-label": "Drop a capture file here or press Enter to choose one",
    },
    "Drop a .pcap / .pcapng here (and a key log, and each side's log, if you have them)",
  );
  const message = h("p", { class: "message", role: "status", "aria-live": "polite" });
  const output = h("div", { "data-testid": "analysis" });
  let worker: Worker | undefined;
  let keyText: string | undefined;
  let lastCapture: File | undefined;

  let logFiles: { name: string; text: string }[] = [];

  const analyze = async (file: File | undefined) => {
    lastCapture = file;
    const what = [file?.name, ...logFiles.map((l) => l.name)].filter(Boolean).join(", ");
    if (!what) return;
    message.textContent = `Analysing ${what} in this page…`;
    replace(output);
    worker ??= new Worker(new URL("../analysis-worker.ts", import.meta.url), { type: "module" });
    const bytes = file ? new Uint8Array(await file.arrayBuffer()) : undefined;
    const reply = await new Promise<AnalysisReply>((resolve) => {
      worker!.onmessage = (event: MessageEvent<AnalysisReply>) => resolve(event.data);
      const request: AnalysisRequest = {
        ...(bytes ? { capture: bytes } : {}),
        ...(keyText !== undefined ? { keyLog: keyText } : {}),
        ...(logFiles.length ? { logs: logFiles } : {}),
      };
      worker!.postMessage(request, bytes ? [bytes.buffer] : []);
    });
    if (!reply.ok) {
      message.textContent = `Could not analyse ${what}: ${reply.error}`;
      return;
    }
    show(file?.name, reply);
  };

  const show = (name: string | undefined, reply: Extract<AnalysisReply, { ok: true }>) => {
    const { result, error, keyErrors, logs } = reply;
    message.textContent = name
      ? `${name}: ${result.messages} WireGuard messages over ${result.durationSeconds.toFixed(3)} s, ${result.pairs.length} peer pair${result.pairs.length === 1 ? "" : "s"}.${error ? ` The file is damaged (${error}); everything before the damage is shown.` : ""}`
      : `${logFiles.length} log${logFiles.length === 1 ? "" : "s"}, no capture.`;
    const notes = frameNotes(logs?.alignments ?? []);
    replace(
      output,
      keyErrors.length
        ? h("p", { class: "bad" }, `Key log problems: ${keyErrors.join("; ")}`)
        : null,
      result.pairs.map((pair) => renderPair(pair, notes)),
      logs
        ? h(
            "ul",
            { class: "muted", "data-testid": "log-summaries" },
            logs.summaries.map((t) => h("li", {}, t)),
          )
        : null,
      logs?.alignments.length ? alignmentList(logs.alignments) : null,
      logs ? logs.analysis.pairs.map(renderLogPair) : null,
      h(
        "details",
        {},
        h("summary", {}, "Full report (as printed by wiregate-replay analyze)"),
        h("pre", { "data-testid": "report" }, name ? reply.report : ""),
        logs ? h("pre", { "data-testid": "log-report" }, logs.report) : null,
      ),
    );
  };

  /** Key logs are told from logs by their content (`LOCAL_STATIC_PRIVATE_KEY = …`). */
  const take = async (files: FileList | File[]) => {
    let cap: File | undefined;
    const texts: { name: string; text: string }[] = [];
    for (const f of files) {
      if (/\.(pcap|pcapng|cap)$/i.test(f.name)) cap = f;
      else texts.push({ name: f.name.replace(/\.[^.]*$/, ""), text: await f.text() });
    }
    const keys = texts.find((t) => /^\s*[A-Z_]+_KEY\s*=/m.test(t.text));
    if (keys) keyText = keys.text;
    const newLogs = texts.filter((t) => t !== keys);
    if (newLogs.length) logFiles = newLogs;
    await analyze(cap ?? lastCapture);
  };

  capture.addEventListener("change", () => void take([...(capture.files ?? [])]));
  keyLog.addEventListener("change", async () => {
    const file = keyLog.files?.[0];
    if (!file) return;
    keyText = await file.text();
    if (lastCapture || logFiles.length) await analyze(lastCapture);
    else message.textContent = `Key log ${file.name} loaded; now choose a capture.`;
  });
  logs.addEventListener("change", () => void take([...(logs.files ?? [])]));
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer?.files.length) void take(event.dataTransfer.files);
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      capture.click();
    }
  });
  drop.addEventListener("click", () => capture.click());

  return h(
    "section",
    { "aria-labelledby": "captures-title" },
    h("h2", { id: "captures-title" }, "Captures"),
    h(
      "p",
      { class: "muted" },
      "The analysis of wiregate-replay runs here, in this page: the files are not uploaded anywhere.",
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Files"),
      drop,
      h(
        "div",
        { class: "row" },
        field("Capture (pcap or pcapng)", capture),
        field(
          "Key log (optional)",
          keyLog,
          "Wireshark format; keys embedded in a pcapng are used too",
        ),
        field(
          "Logs (optional, one per side)",
          logs,
          "wireguard-go, kernel (dmesg, journalctl -k) or exported timeline NDJSON; with or without a capture",
        ),
      ),
    ),
    message,
    output,
  );
}
