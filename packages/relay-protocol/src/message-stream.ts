/**
 * WireGuard messages too large for one datagram of the session travel on a reliable WebTransport
 * stream of their own, the "message stream", one after another.
 *
 * Wire format: a 2-byte big-endian length, then that many bytes of one WireGuard message. A zero
 * length carries nothing: the client sends one to open the stream toward the relay. Reading never
 * throws on peer bytes and buffers at most one message.
 */

export const MESSAGE_HEADER_SIZE = 2;
/** The largest length the header can announce. */
export const MAX_STREAM_MESSAGE = 0xffff;

/** The frame that opens a message stream without carrying a message. */
export const OPEN_MESSAGE_STREAM: Uint8Array = new Uint8Array(MESSAGE_HEADER_SIZE);

/** One message as it goes on the stream: header and body in one buffer (one write). */
export function encodeStreamMessage(message: Uint8Array): Uint8Array {
  if (message.length === 0 || message.length > MAX_STREAM_MESSAGE) {
    throw new RangeError(
      `encodeStreamMessage: a message is 1..${MAX_STREAM_MESSAGE} bytes, got ${message.length}`,
    );
  }
  const frame = new Uint8Array(MESSAGE_HEADER_SIZE + message.length);
  frame[0] = message.length >>> 8;
  frame[1] = message.length & 0xff;
  frame.set(message, MESSAGE_HEADER_SIZE);
  return frame;
}

export type StreamMessageResult =
  | { ok: true; message: Uint8Array }
  /** A message over the limit: its bytes are skipped, the stream stays in step. */
  | { ok: false; length: number; detail: string };

export interface StreamMessageReaderOptions {
  /**
   * A message that lies whole in one chunk comes out as a view into that chunk instead of a copy:
   * for a caller that is done with each message before it drops the chunk (a view keeps the whole
   * chunk alive) and never writes into a chunk it pushed. Default false (copies).
   */
  views?: boolean;
}

/** Splits a message stream back into messages, across any chunking. */
export class StreamMessageReader {
  readonly #header = new Uint8Array(MESSAGE_HEADER_SIZE);
  readonly #views: boolean;
  #headerFill = 0;
  #body: Uint8Array | undefined;
  #bodyFill = 0;
  #skip = 0;

  /** @param maxMessageSize larger messages are reported and skipped, never buffered */
  constructor(
    readonly maxMessageSize: number,
    options: StreamMessageReaderOptions = {},
  ) {
    this.#views = options.views ?? false;
  }

  push(chunk: Uint8Array): StreamMessageResult[] {
    const results: StreamMessageResult[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
      } else if (this.#body) {
        const n = Math.min(this.#body.length - this.#bodyFill, chunk.length - i);
        this.#body.set(chunk.subarray(i, i + n), this.#bodyFill);
        this.#bodyFill += n;
        i += n;
        if (this.#bodyFill === this.#body.length) {
          results.push({ ok: true, message: this.#body });
          this.#body = undefined;
        }
      } else {
        this.#header[this.#headerFill++] = chunk[i++]!;
        if (this.#headerFill < MESSAGE_HEADER_SIZE) continue;
        this.#headerFill = 0;
        const length = (this.#header[0]! << 8) | this.#header[1]!;
        if (length === 0) continue;
        if (length > this.maxMessageSize) {
          results.push({
            ok: false,
            length,
            detail: `message of ${length} bytes exceeds ${this.maxMessageSize}`,
          });
          this.#skip = length;
        } else if (chunk.length - i >= length) {
          const message = this.#views ? chunk.subarray(i, i + length) : chunk.slice(i, i + length);
          results.push({ ok: true, message });
          i += length;
        } else {
          this.#body = new Uint8Array(length);
          this.#bodyFill = 0;
        }
      }
    }
    return results;
  }

  /** Bytes of an incomplete message held (at most the limit plus the header). */
  get pending(): number {
    return this.#headerFill + (this.#body ? this.#bodyFill : 0);
  }
}
