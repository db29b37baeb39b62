/**
 * The sending end of a message stream (wire format in message-stream.ts), shared by the client and
 * the relay. What is sent in one event-loop turn leaves in one write at the end of the turn: no
 * write and no promise per message, and the batch grows with the load by itself. A write does not
 * wait for the one before it to complete (that cost a completion's delay per hop, measured: p50
 * round trip +1.3 ms through the relay); the transport takes them in order.
 *
 * A reliable stream must not turn into a queue of seconds: WireGuard and the TCP inside the tunnel
 * recover from a lost message, not from a stale queue. The bytes written and not yet taken by the
 * transport, plus those of this turn, stay under `maxBytes`; a message beyond is dropped at once
 * and counted (`drops`), as a full datagram queue drops.
 */

import { MAX_STREAM_MESSAGE, MESSAGE_HEADER_SIZE } from "./message-stream.js";

/** The stream's queue limit both ends use unless told otherwise (see docs/relay.md). */
export const STREAM_QUEUE_BYTES = 64 * 1024;

export interface StreamSenderOptions {
  /** Bytes (headers included) in flight and waiting together, at most. Default STREAM_QUEUE_BYTES. */
  maxBytes?: number;
  /**
   * Runs `flush` at the end of this event-loop turn. Default: `setImmediate` where there is one
   * (Node: after every socket event of this turn), else a microtask.
   */
  schedule?: (flush: () => void) => void;
}

type Writer = Pick<WritableStreamDefaultWriter<Uint8Array>, "write">;

/** Node's `setImmediate`, when this runs in Node (the package has no Node types: it also runs in pages). */
const immediate = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate;
// Both called as plain functions: browsers throw "Illegal invocation" for a `queueMicrotask` (or
// `setImmediate`) called with another `this`.
const defaultSchedule: (flush: () => void) => void = immediate
  ? (flush) => {
      immediate(flush);
    }
  : (flush) => queueMicrotask(flush);

export class StreamSender {
  readonly maxBytes: number;
  readonly #writer: Writer;
  readonly #schedule: (flush: () => void) => void;
  /** This turn's messages: the first `#waitingCount` entries (the array is reused turn after turn). */
  readonly #waiting: (Uint8Array | undefined)[] = [];
  #waitingCount = 0;
  /** Bytes (with headers) of this turn's messages. */
  #waitingBytes = 0;
  /** Bytes of the writes the transport has not completed. */
  #writingBytes = 0;
  #scheduled = false;
  #closed = false;
  /** Messages taken, dropped at the limit (or lost with a failed write), and writes made. */
  sent = 0;
  drops = 0;
  writes = 0;

  constructor(writer: Writer, options: StreamSenderOptions = {}) {
    this.#writer = writer;
    this.maxBytes = options.maxBytes ?? STREAM_QUEUE_BYTES;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes <= MESSAGE_HEADER_SIZE) {
      throw new RangeError(`StreamSender: maxBytes must be an integer > 2, got ${this.maxBytes}`);
    }
    this.#schedule = options.schedule ?? defaultSchedule;
  }

  /** Bytes in flight and waiting. */
  get queued(): number {
    return this.#writingBytes + this.#waitingBytes;
  }

  /**
   * Queues one message (1..65535 bytes) for this turn's write; false when it was dropped (the
   * queue is full, or the stream failed).
   */
  send(message: Uint8Array): boolean {
    if (message.length === 0 || message.length > MAX_STREAM_MESSAGE) {
      throw new RangeError(`StreamSender.send: a message is 1..${MAX_STREAM_MESSAGE} bytes`);
    }
    const size = MESSAGE_HEADER_SIZE + message.length;
    if (this.#closed || this.queued + size > this.maxBytes) {
      this.drops++;
      return false;
    }
    this.#waiting[this.#waitingCount++] = message;
    this.#waitingBytes += size;
    this.sent++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(this.#flush);
    }
    return true;
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#closed || this.#waitingBytes === 0) return;
    const batch = new Uint8Array(this.#waitingBytes);
    const waiting = this.#waiting;
    let offset = 0;
    for (let i = 0; i < this.#waitingCount; i++) {
      const message = waiting[i]!;
      waiting[i] = undefined;
      batch[offset] = message.length >>> 8;
      batch[offset + 1] = message.length & 0xff;
      batch.set(message, offset + MESSAGE_HEADER_SIZE);
      offset += MESSAGE_HEADER_SIZE + message.length;
    }
    this.#waitingCount = 0;
    this.#writingBytes += batch.length;
    this.#waitingBytes = 0;
    this.writes++;
    this.#writer.write(batch).then(() => {
      if (!this.#closed) this.#writingBytes -= batch.length;
    }, this.#failed);
  };

  readonly #failed = (): void => {
    this.drops += this.#waitingCount;
    this.close();
  };

  /** Drops what waits; later sends are dropped. */
  close(): void {
    this.#closed = true;
    this.#waiting.fill(undefined, 0, this.#waitingCount);
    this.#waitingCount = 0;
    this.#waitingBytes = 0;
    this.#writingBytes = 0;
  }
}
