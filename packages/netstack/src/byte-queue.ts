/**
 * A bounded FIFO of bytes (a ring that grows by doubling up to its capacity): the send buffer
 * (unacknowledged and unsent data) and the receive buffer (in-order data the reader has not taken).
 */
export class ByteQueue {
  readonly capacity: number;
  #ring: Uint8Array;
  #head = 0;
  #length = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#ring = new Uint8Array(Math.min(capacity, 16384));
  }

  get length(): number {
    return this.#length;
  }

  get free(): number {
    return this.capacity - this.#length;
  }

  /** Appends as much of `bytes` as fits; returns how many bytes were taken. */
  push(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.free);
    if (n === 0) return 0;
    this.#reserve(this.#length + n);
    const size = this.#ring.length;
    const tail = (this.#head + this.#length) % size;
    const first = Math.min(n, size - tail);
    this.#ring.set(bytes.subarray(0, first), tail);
    if (first < n) this.#ring.set(bytes.subarray(first, n), 0);
    this.#length += n;
    return n;
  }

  /** A copy of `length` bytes starting `offset` bytes after the head. */
  peek(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.#length - offset)));
    this.copyTo(offset, out.length, out, 0);
    return out;
  }

  /**
   * Copies `length` bytes starting `offset` bytes after the head into `target` at `at`, without
   * a buffer in between (a segment is built straight from the send buffer); returns the count.
   */
  copyTo(offset: number, length: number, target: Uint8Array, at: number): number {
    const n = Math.max(0, Math.min(length, this.#length - offset));
    const size = this.#ring.length;
    const start = (this.#head + offset) % size;
    const first = Math.min(n, size - start);
    target.set(this.#ring.subarray(start, start + first), at);
    if (first < n) target.set(this.#ring.subarray(0, n - first), at + first);
    return n;
  }

  /** Removes up to `n` bytes from the head. */
  drop(n: number): void {
    const k = Math.min(n, this.#length);
    this.#head = (this.#head + k) % this.#ring.length;
    this.#length -= k;
    if (this.#length === 0) this.#head = 0;
  }

  /** Takes up to `n` bytes from the head. */
  shift(n: number): Uint8Array {
    const out = this.peek(0, n);
    this.drop(out.length);
    return out;
  }

  #reserve(needed: number): void {
    if (needed <= this.#ring.length) return;
    let size = this.#ring.length;
    while (size < needed) size *= 2;
    const ring = new Uint8Array(Math.min(size, this.capacity));
    ring.set(this.peek(0, this.#length));
    this.#ring = ring;
    this.#head = 0;
  }
}
