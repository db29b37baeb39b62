import type { ChunkQueue } from "./chunks.js";
import { CaptureError, type CaptureErrorCode } from "./errors.js";
import type { CaptureRecord, ErrorRecord } from "./records.js";

/** Reader limits; lengths above them are errors before anything is allocated. */
export interface ReaderLimits {
  /** Largest captured length accepted in a classic pcap record (default 256 KiB). */
  maxPcapRecordBytes: number;
  /** Largest pcapng block accepted (default 16 MiB). */
  maxPcapngBlockBytes: number;
}

export const DEFAULT_LIMITS: ReaderLimits = {
  maxPcapRecordBytes: 256 * 1024,
  maxPcapngBlockBytes: 16 * 1024 * 1024,
};

/**
 * One file format's record parser. `next` returns a record, an error record (after which it is
 * never called again), or undefined when it needs more input (or, once the input ended, when the
 * file is complete).
 */
export interface FormatParser {
  next(queue: ChunkQueue): CaptureRecord | undefined;
}

export function errorRecord(code: CaptureErrorCode, offset: number, message: string): ErrorRecord {
  return { kind: "error", error: new CaptureError(code, offset, message) };
}

/**
 * What to return when `want(needed)` failed: nothing yet while input may still come; after the
 * end, a clean finish if we were between records, else a truncation error naming what was cut.
 */
export function starved(
  queue: ChunkQueue,
  format: string,
  what: string,
  needed: number,
  betweenRecords: boolean,
): ErrorRecord | undefined {
  if (!queue.ended) return undefined;
  const have = queue.buffered;
  if (have === 0 && betweenRecords) return undefined;
  return errorRecord(
    "truncated",
    queue.offset,
    `${format}: file truncated at offset ${queue.offset + have}: ${what} at offset ${queue.offset} needs ${needed} bytes, only ${have} present`,
  );
}
