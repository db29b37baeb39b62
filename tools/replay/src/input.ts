/** What every command reads: key logs, and the WireGuard messages of a capture, streamed. */

import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { stdin } from "node:process";
import { type DecodedMessage, KeyMaterial, WireGuardDecoder } from "@wiregate/analysis";
import { CaptureReader, type CaptureRecord } from "@wiregate/capture";
import { nodeCrypto } from "@wiregate/core/node";
import type { BufferedOut, Sink } from "./io.js";

/** Loads and validates a key log; problems are reported on stderr. */
export async function loadKeys(
  path: string,
  err: BufferedOut,
): Promise<{ keys: KeyMaterial; text: string; ok: boolean }> {
  const keys = new KeyMaterial(nodeCrypto);
  let text: string;
  try {
    text = path === "-" ? "" : await readFile(path, "utf8");
  } catch (error) {
    err.line(
      `error: cannot read key log ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
    return { keys, text: "", ok: false };
  }
  keys.addKeyLog(text, path);
  let ok = true;
  for (const e of keys.errors) {
    err.line(`error: ${path}:${e.line}: ${e.message}`);
    ok = false;
  }
  if (keys.size === 0 && ok) {
    err.line(`error: ${path}: no keys (expected lines like 'LOCAL_STATIC_PRIVATE_KEY = base64')`);
    ok = false;
  }
  return { keys, text, ok };
}

/** Progress on stderr: only on a terminal, and only for long files. */
export class Progress {
  #last = 0;
  #shown = false;
  constructor(
    readonly stderr: Sink,
    readonly size: number,
  ) {}
  static async for(file: string, stderr: Sink): Promise<Progress | undefined> {
    if (!stderr.isTTY || file === "-") return undefined;
    try {
      const { size } = await stat(file);
      return size >= 16 << 20 ? new Progress(stderr, size) : undefined;
    } catch {
      return undefined;
    }
  }
  update(offset: number, messages: number): void {
    const now = Date.now();
    if (now - this.#last < 200) return;
    this.#last = now;
    const fraction = Math.min(1, offset / this.size);
    const width = 30;
    const filled = Math.round(fraction * width);
    this.stderr.write(
      `\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${messages} messages`,
    );
    this.#shown = true;
  }
  done(): void {
    if (this.#shown) this.stderr.write(`\r${" ".repeat(60)}\r`);
  }
}

export interface MessageStreamResult {
  error: string | undefined;
  messages: number;
  frames: number;
}

/**
 * Reads a capture and calls `onMessage` for each WireGuard message (in order), stopping after
 * `count`. A damaged capture ends the stream with `error` set (after every readable message).
 */
export async function streamMessages(
  file: string,
  options: {
    keys?: KeyMaterial;
    count: number;
    keepPlaintext?: boolean;
    keepPayload?: boolean;
    progress?: Progress | undefined;
  },
  onMessage: (m: DecodedMessage) => Promise<void> | undefined,
  onRecord?: (r: CaptureRecord) => void,
): Promise<MessageStreamResult> {
  const decoder = new WireGuardDecoder({
    keys: options.keys,
    keepPlaintext: options.keepPlaintext,
    keepPayload: options.keepPayload,
  });
  let error: string | undefined;
  // The reader is pushed file chunks and drained synchronously: no promise per record.
  const reader = new CaptureReader();
  const handle = (record: CaptureRecord): boolean | Promise<void> => {
    if (record.kind === "error") {
      error = record.error.message;
      return true;
    }
    onRecord?.(record);
    const m = decoder.record(record);
    if (record.kind === "packet") options.progress?.update(record.offset, decoder.messages);
    if (m === undefined) return false;
    const pending = onMessage(m);
    if (decoder.messages >= options.count) return pending ? pending.then(() => stop()) : true;
    return pending ?? false;
  };
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  try {
    const source = file === "-" ? stdin : createReadStream(file, { highWaterMark: 1 << 20 });
    outer: for await (const chunk of source as AsyncIterable<Uint8Array>) {
      reader.push(chunk);
      for (let r = reader.next(); r !== undefined; r = reader.next()) {
        let verdict = handle(r);
        if (verdict instanceof Promise) {
          await verdict;
          verdict = stopped;
        }
        if (verdict === true) break outer;
      }
      if (reader.done) break;
    }
    if (!stopped && error === undefined && decoder.messages < options.count) {
      reader.end();
      for (let r = reader.next(); r !== undefined; r = reader.next()) {
        let verdict = handle(r);
        if (verdict instanceof Promise) {
          await verdict;
          verdict = stopped;
        }
        if (verdict === true) break;
      }
    }
    if (file !== "-" && "destroy" in source) (source as { destroy(): void }).destroy();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    error = code
      ? `cannot read ${file}: ${code === "ENOENT" ? "no such file" : code}`
      : (e as Error).message;
  }
  options.progress?.done();
  return { error, messages: decoder.messages, frames: decoder.frames };
}
