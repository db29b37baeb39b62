/**
 * A queue of pushed chunks read as one byte stream. `want(n)` exposes the next n bytes as
 * `bytes`/`view` at `at` — straight from the current chunk when they lie inside it (no copy), or
 * gathered into a freshly allocated carry buffer when they straddle chunks. Callers check
 * lengths against their limits before asking, so the carry never grows beyond a limit.
 */
export class ChunkQueue {
  /** Bytes exposed by the last successful `want`. */
  bytes: Uint8Array = EMPTY;
  view: DataView = EMPTY_VIEW;
  at = 0;
  /** File offset of the first unconsumed byte. */
  offset = 0;
  ended = false;

  private chunks: Uint8Array[] = [];
  private head = 0;
  private pos = 0;
  private headView: DataView = EMPTY_VIEW;
  private carry: Uint8Array | null = null;
  private carryView: DataView = EMPTY_VIEW;
  private carryLength = 0;

  push(input: Uint8Array): void {
    if (input.length === 0) return;
    // Node Buffers' subarray builds Buffers, which costs more per record: view as plain bytes.
    const chunk =
      input.constructor === Uint8Array
        ? input
        : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
      this.pos = 0;
    }
    this.chunks.push(chunk);
    if (this.chunks.length === this.head + 1) this.headView = viewOf(chunk);
  }

  /** Bytes pushed and not yet consumed. */
  get buffered(): number {
    let total = this.carryLength;
    for (let i = this.head; i < this.chunks.length; i++) total += this.chunks[i]!.length;
    return total - (this.head < this.chunks.length ? this.pos : 0);
  }

  /** True when the next n bytes are available (exposed via bytes/view/at). */
  want(n: number): boolean {
    if (this.carryLength === 0) {
      const chunk = this.chunks[this.head];
      if (chunk !== undefined && chunk.length - this.pos >= n) {
        this.bytes = chunk;
        this.view = this.headView;
        this.at = this.pos;
        return true;
      }
    }
    return this.gather(n);
  }

  /** Drops the next n bytes, which must have been exposed by `want(n)` or more. */
  consume(n: number): void {
    this.offset += n;
    if (this.carryLength === 0) {
      this.pos += n;
      if (this.pos === this.chunks[this.head]?.length) this.nextChunk();
      return;
    }
    if (n === this.carryLength) {
      // Views into the carry may have escaped in a record: never reuse it.
      this.carry = null;
      this.carryLength = 0;
    } else {
      this.carry!.copyWithin(0, n, this.carryLength);
      this.carryLength -= n;
    }
  }

  private gather(n: number): boolean {
    if (this.carry === null || this.carry.length < n) {
      const grown = new Uint8Array(Math.max(n, 32));
      if (this.carry !== null) grown.set(this.carry.subarray(0, this.carryLength));
      this.carry = grown;
      this.carryView = viewOf(grown);
    }
    while (this.carryLength < n && this.head < this.chunks.length) {
      const chunk = this.chunks[this.head]!;
      const take = Math.min(n - this.carryLength, chunk.length - this.pos);
      this.carry.set(chunk.subarray(this.pos, this.pos + take), this.carryLength);
      this.carryLength += take;
      this.pos += take;
      if (this.pos === chunk.length) this.nextChunk();
    }
    if (this.carryLength < n) return false;
    this.bytes = this.carry;
    this.view = this.carryView;
    this.at = 0;
    return true;
  }

  private nextChunk(): void {
    this.chunks[this.head] = EMPTY; // let the chunk be collected once records drop their views
    this.head++;
    this.pos = 0;
    const chunk = this.chunks[this.head];
    if (chunk !== undefined) this.headView = viewOf(chunk);
    else {
      this.chunks.length = 0;
      this.head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
