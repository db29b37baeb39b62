/**
 * Capture analysis off the main thread: the same decoder and analyzer as `wiregate-replay
 * analyze`, fed from bytes the user dropped. Nothing leaves the page.
 */
import {
  type AnalysisResult,
  Analyzer,
  KeyMaterial,
  renderAnalysis,
  WireGuardDecoder,
} from "@wiregate/analysis";
import { readCaptureBytes } from "@wiregate/capture";
import { nobleCrypto } from "@wiregate/core";

export interface AnalysisRequest {
  capture: Uint8Array;
  keyLog?: string;
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
    }
  | { ok: false; error: string };

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.addEventListener("message", (event: MessageEvent<AnalysisRequest>) => {
  const { capture, keyLog } = event.data;
  try {
    // Like the CLI: keys embedded in a pcapng decrypt even without a key log.
    const keys = new KeyMaterial(nobleCrypto);
    if (keyLog !== undefined) keys.addKeyLog(keyLog, "key log");
    const decoder = new WireGuardDecoder({ keys });
    const analyzer = new Analyzer();
    let error: string | undefined;
    for (const record of readCaptureBytes(capture)) {
      if (record.kind === "error") {
        error = record.error.message;
        break;
      }
      const message = decoder.record(record);
      if (message) analyzer.add(message);
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
    scope.postMessage(reply);
  } catch (e) {
    scope.postMessage({ ok: false, error: (e as Error).message } satisfies AnalysisReply);
  }
});
