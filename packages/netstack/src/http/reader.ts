/**
 * Reading an HTTP/1.1 message from a byte stream: the head up to a delimiter, then the body framed
 * by Content-Length, chunked transfer coding (RFC 9112 §7.1) or the end of the connection.
 */
export class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer: Uint8Array = new Uint8Array(0);
  #done = false;
  #read = 0;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
  }

  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#done = true;
      return false;
    }
    this.#read += value.length;
    if (this.#buffer.length === 0) {
      this.#buffer = value;
      return true;
    }
    const merged = new Uint8Array(this.#buffer.length + value.length);
    merged.set(this.#buffer);
    merged.set(value, this.#buffer.length);
    this.#buffer = merged;
    return true;
  }

  /** Bytes received so far, and those received and not yet taken. */
  get bytesRead(): number {
    return this.#read;
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  /** Stops reading: the underlying stream is cancelled. */
  cancel(): void {
    this.#done = true;
    this.#buffer = new Uint8Array(0);
    void this.#reader.cancel().catch(() => {});
  }

  #take(n: number): Uint8Array {
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Text up to (not including) `delimiter`, which is consumed; at most `max` bytes. */
  async readUntil(delimiter: string, max: number): Promise<string> {
    const d = new TextEncoder().encode(delimiter);
    let from = 0;
    for (;;) {
      const at = indexOf(this.#buffer, d, from);
      if (at >= 0) {
        const text = new TextDecoder().decode(this.#take(at));
        this.#take(d.length);
        return text;
      }
      if (this.#buffer.length > max)
        throw new Error(`no '${JSON.stringify(delimiter)}' within ${max} bytes`);
      from = Math.max(0, this.#buffer.length - d.length + 1);
      if (!(await this.#fill())) throw new Error("connection closed before the end of the head");
    }
  }

  empty(onDone: () => void = () => {}): ReadableStream<Uint8Array> {
    onDone();
    return new ReadableStream({ start: (c) => c.close() });
  }

  /**
   * The body as its own stream, framed by the headers; `onDone` runs once it is complete,
   * `onError` if it fails or its reader cancels it (by default the underlying stream is cancelled).
   */
  body(
    headers: Record<string, string>,
    onDone: () => void = () => {},
    onError: () => void = () => this.cancel(),
  ): ReadableStream<Uint8Array> {
    const chunked = /(^|,)\s*chunked\s*$/i.test(headers["transfer-encoding"] ?? "");
    const length = headers["content-length"];
    if (!chunked && length !== undefined && !/^\d+$/.test(length)) {
      throw new Error(`bad Content-Length '${length}'`);
    }
    let remaining = chunked ? 0 : length === undefined ? Number.POSITIVE_INFINITY : Number(length);
    let chunkedDone = false;
    const pull = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
      if (chunked && remaining === 0) {
        if (chunkedDone) return controller.close();
        const line = await this.readUntil("\r\n", 1024);
        const hex = line.split(";")[0]!.trim();
        if (!/^[0-9a-f]{1,12}$/i.test(hex))
          throw new Error(`bad chunk size '${line.slice(0, 80)}'`);
        const size = Number.parseInt(hex, 16);
        if (size === 0) {
          // Trailer section: header lines until an empty line.
          while ((await this.readUntil("\r\n", MAX_TRAILER)) !== "");
          chunkedDone = true;
          onDone();
          return controller.close();
        }
        remaining = size;
      }
      if (remaining === 0) {
        onDone();
        return controller.close();
      }
      if (this.#buffer.length === 0 && !(await this.#fill())) {
        if (remaining === Number.POSITIVE_INFINITY) {
          onDone();
          return controller.close();
        }
        throw new Error(`connection closed with ${remaining} body bytes missing`);
      }
      const piece = this.#take(Math.min(remaining, this.#buffer.length));
      remaining -= piece.length;
      controller.enqueue(piece.slice());
      if (chunked && remaining === 0) await this.readUntil("\r\n", 2);
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          await pull(controller);
        } catch (e) {
          onError();
          throw e;
        }
      },
      cancel: () => onError(),
    });
  }
}

const MAX_TRAILER = 8192;

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
