/**
 * One direction of a session: datagrams pass at once while the rate and bandwidth buckets allow,
 * otherwise they wait in a bounded queue that drops the oldest (stale packets are worth least to
 * WireGuard), and the queue drains on a timer as tokens come back.
 */

import { TokenBucket } from "./token-bucket.js";

const now = (): number => performance.now();

export interface PacedQueueOptions {
  datagramsPerSecond: number;
  bytesPerSecond: number;
  capacity: number;
  send: (datagram: Uint8Array) => void;
  onDrop: (datagram: Uint8Array, reason: "queue-full" | "closed") => void;
}

export class PacedQueue {
  readonly #rate: TokenBucket;
  readonly #bandwidth: TokenBucket;
  #items: Uint8Array[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(private readonly options: PacedQueueOptions) {
    // Bursts of a tenth of a second, at least one datagram and one largest datagram.
    this.#rate = new TokenBucket(
      options.datagramsPerSecond,
      Math.max(1, options.datagramsPerSecond / 10),
      now,
    );
    this.#bandwidth = new TokenBucket(
      options.bytesPerSecond,
      Math.max(65_536, options.bytesPerSecond / 10),
      now,
    );
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(datagram: Uint8Array): void {
    if (this.#closed) {
      this.options.onDrop(datagram, "closed");
      return;
    }
    if (this.length === 0 && this.#admit(datagram)) {
      this.options.send(datagram);
      return;
    }
    if (this.length >= this.options.capacity) this.options.onDrop(this.#shift()!, "queue-full");
    this.#items.push(datagram);
    this.#schedule();
  }

  /** One clock read per datagram on the fast path: both buckets are refilled at the same instant. */
  #admit(datagram: Uint8Array): boolean {
    const at = now();
    if (!this.#rate.has(1, at) || !this.#bandwidth.has(datagram.length, at)) return false;
    this.#rate.takeChecked(1);
    this.#bandwidth.takeChecked(datagram.length);
    return true;
  }

  #shift(): Uint8Array | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.length === 0) return;
    const next = this.#items[this.#head]!;
    const wait = Math.max(this.#rate.waitMs(1), this.#bandwidth.waitMs(next.length));
    this.#timer = setTimeout(() => this.#drain(), Math.max(1, Math.ceil(wait)));
  }

  #drain(): void {
    this.#timer = undefined;
    while (this.length > 0 && this.#admit(this.#items[this.#head]!)) {
      this.options.send(this.#shift()!);
    }
    this.#schedule();
  }

  /** Drops everything still queued (counted) and refuses new datagrams. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.length > 0) this.options.onDrop(this.#shift()!, "closed");
    this.#items = [];
    this.#head = 0;
  }
}
