/**
 * Capture and log analysis off the main thread: the same decoder, analyzer and log parsers as
 * `wiregate-replay analyze [--log …]`, fed from files the user dropped. Nothing leaves the page.
 */
import {
  type AnalysisResult,
  Analyzer,
  alignLog,
  analyzeLogs,
  type DecodedMessage,
  describeReport,
  KeyMaterial,
  type LogAlignment,
  type LogAnalysisResult,
  parseLog,
  renderAnalysis,
  renderLogAnalysis,
  WireGuardDecoder,
} from "@wiregate/analysis";
import { readCaptureBytes } from "@wiregate/capture";
import { nobleCrypto } from "@wiregate/core";

export interface AnalysisRequest {
  /** Absent: logs alone. */
  capture?: Uint8Array;
  keyLog?: string;
  /** wireguard-go, kernel or trace NDJSON logs, one per side. */
  logs?: { name: string; text: string }[];
}

export interface LogReply {
  analysis: LogAnalysisResult;
  report: string;
  /** One summary per log: lines, formats, what was not understood. */
  summaries: string[];
  /** Each log placed on the capture (when there is one). */
  alignments: LogAlignment[];
}

export type AnalysisReply =
  | {
      ok: true;
      result: AnalysisResult;
      report: string;
      frames: number;
      /** The capture was damaged: everything readable before the damage was analysed. */
      error?: string;
      keyErrors: string[];
      logs?: LogReply;
    }
  | { ok: false; error: string };

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.addEventListener("message", (event: MessageEvent<AnalysisRequest>) => {
  const { capture, keyLog, logs } = event.data;
  try {
    // Like the CLI: keys embedded in a pcapng decrypt even without a key log.
    const keys = new KeyMaterial(nobleCrypto);
    if (keyLog !== undefined) keys.addKeyLog(keyLog, "key log");
    const decoder = new WireGuardDecoder({ keys });
    const analyzer = new Analyzer();
    const handshake: DecodedMessage[] = [];
    let error: string | undefined;
    for (const record of capture ? readCaptureBytes(capture) : []) {
      if (record.kind === "error") {
        error = record.error.message;
        break;
      }
      const message = decoder.record(record);
      if (!message) continue;
      analyzer.add(message);
      if (message.type !== 4 || message.keepalive) handshake.push(message);
    }
    const result = analyzer.finish();
    const reply: AnalysisReply = {
      ok: true,
      result,
      report: renderAnalysis(result),
      frames: decoder.frames,
      keyErrors: keys.errors.map((e) => `line ${e.line}: ${e.message}`),
      ...(error ? { error } : {}),
    };
    if (logs?.length) {
      const year = new Date().getUTCFullYear();
      const parsed = logs.map((l) => parseLog(l.text, { name: l.name, year }));
      const analysis = analyzeLogs(parsed);
      reply.logs = {
        analysis,
        report: renderLogAnalysis(analysis),
        summaries: parsed.map((p) => describeReport(p.report)),
        alignments: capture ? parsed.flatMap((p) => alignLog(p, handshake) ?? []) : [],
      };
    }
    scope.postMessage(reply);
  } catch (e) {
    scope.postMessage({ ok: false, error: (e as Error).message } satisfies AnalysisReply);
  }
});
