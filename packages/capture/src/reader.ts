import { ChunkQueue } from "./chunks.js";
import { DEFAULT_LIMITS, errorRecord, type FormatParser, type ReaderLimits } from "./parser.js";
import { hex32, PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS, PcapParser } from "./pcap.js";
import { BLOCK_SECTION_HEADER, PcapngParser } from "./pcapng.js";
import type { CaptureRecord } from "./records.js";

export type CaptureFormat = "pcap" | "pcapng";

export interface CaptureReaderOptions extends Partial<ReaderLimits> {}

/**
 * Incremental reader for pcap and pcapng (detected from the first bytes). Push chunks of any
 * size, then pull records with `next()` (or iterate the reader) until it returns undefined;
 * call `end()` when the input is complete to get a truncation error for a cut-off file.
 * A damaged file yields every record readable before the damage, then one `{ kind: "error" }`.
 *
 *     for (const record of reader.push(chunk)) …
 *     for (const record of reader.end()) …
 */
export class CaptureReader implements Iterable<CaptureRecord> {
  private readonly queue = new ChunkQueue();
  private readonly limits: ReaderLimits;
  private parser: FormatParser | undefined;
  private finished = false;
  /** Detected format, once the first 4 bytes were seen. */
  format: CaptureFormat | undefined;

  constructor(options: CaptureReaderOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options };
    for (const [name, value] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(value) || value < 16) {
        throw new RangeError(`CaptureReader: option ${name} must be an integer ≥ 16, got ${value}`);
      }
    }
  }

  /** Adds input bytes (kept as views, not copied unless a record straddles chunks). */
  push(chunk: Uint8Array): this {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("CaptureReader.push: chunk must be a Uint8Array");
    }
    if (this.queue.ended) throw new TypeError("CaptureReader.push: called after end()");
    if (!this.finished) this.queue.push(chunk);
    return this;
  }

  /** Marks the input complete; remaining records (and any truncation error) follow. */
  end(): this {
    this.queue.ended = true;
    return this;
  }

  /** True once the last record (or the error) was returned. */
  get done(): boolean {
    return this.finished;
  }

  /** The next record, or undefined when more input is needed or the capture is complete. */
  next(): CaptureRecord | undefined {
    if (this.finished) return undefined;
    if (this.parser === undefined) {
      if (!this.detect()) return this.finishIfEnded();
      if (this.finished) return this.detectionError;
    }
    const record = this.parser!.next(this.queue);
    if (record === undefined) return this.finishIfEnded();
    if (record.kind === "error") this.finished = true;
    return record;
  }

  *[Symbol.iterator](): Iterator<CaptureRecord> {
    for (let record = this.next(); record !== undefined; record = this.next()) yield record;
  }

  private detectionError: CaptureRecord | undefined;

  private detect(): boolean {
    const queue = this.queue;
    if (!queue.want(4)) return false;
    const big = queue.view.getUint32(queue.at, false);
    if (big === BLOCK_SECTION_HEADER) {
      this.format = "pcapng";
      this.parser = new PcapngParser(this.limits);
    } else if (
      big === PCAP_MAGIC_MICROSECONDS ||
      big === PCAP_MAGIC_NANOSECONDS ||
      queue.view.getUint32(queue.at, true) === PCAP_MAGIC_MICROSECONDS ||
      queue.view.getUint32(queue.at, true) === PCAP_MAGIC_NANOSECONDS
    ) {
      this.format = "pcap";
      this.parser = new PcapParser(this.limits);
    } else {
      this.finished = true;
      this.detectionError = errorRecord(
        "unsupported",
        0,
        `capture: unknown file magic 0x${hex32(big)}; expected pcap (a1b2c3d4, a1b23c4d) or pcapng (0a0d0d0a)`,
      );
      this.parser = NO_PARSER;
    }
    return true;
  }

  private finishIfEnded(): CaptureRecord | undefined {
    if (!this.queue.ended) return undefined;
    this.finished = true;
    if (this.parser === undefined) {
      const have = this.queue.buffered;
      return errorRecord(
        "truncated",
        0,
        have === 0
          ? "capture: file is empty"
          : `capture: file truncated at offset ${have}: ${have} bytes are too few to identify the format`,
      );
    }
    return undefined;
  }
}

const NO_PARSER: FormatParser = { next: () => undefined };

/** A Web `ReadableStream` (browsers without async iteration of streams included). */
export interface ByteStreamLike {
  getReader(): {
    read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
    releaseLock(): void;
  };
}

/**
 * Reads a capture from an async source of chunks: a Node stream, a Web `ReadableStream`
 * (`file.stream()`, `response.body`) or any `AsyncIterable<Uint8Array>`. Memory stays bounded:
 * records are yielded as chunks arrive. Never throws for bad capture bytes: a damaged file ends
 * with one `{ kind: "error" }` record; errors of the source itself propagate.
 */
export async function* readCapture(
  source: AsyncIterable<Uint8Array> | ByteStreamLike,
  options?: CaptureReaderOptions,
): AsyncGenerator<CaptureRecord, void, undefined> {
  const reader = new CaptureReader(options);
  for await (const chunk of chunksOf(source)) {
    for (let r = reader.push(chunk).next(); r !== undefined; r = reader.next()) yield r;
    if (reader.done) return;
  }
  for (let r = reader.end().next(); r !== undefined; r = reader.next()) yield r;
}

/** Reads a capture that is already in memory (e.g. `new Uint8Array(await file.arrayBuffer())`). */
export function* readCaptureBytes(
  bytes: Uint8Array,
  options?: CaptureReaderOptions,
): Generator<CaptureRecord, void, undefined> {
  const reader = new CaptureReader(options);
  yield* reader.push(bytes).end();
}

async function* chunksOf(
  source: AsyncIterable<Uint8Array> | ByteStreamLike,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (Symbol.asyncIterator in source) {
    yield* source;
    return;
  }
  const reader = source.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value !== undefined) yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
