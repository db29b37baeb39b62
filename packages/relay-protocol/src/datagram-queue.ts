/**
 * The receive queue behind `RelayConnection.datagrams`. Separate from client.ts because it knows
 * nothing of relays or transports, only how many datagrams to hold and which to drop when the
 * reader falls behind.
 */

/** A bounded FIFO feeding an async iterator; drops the oldest datagram when full. */
export class DatagramQueue implements AsyncIterable<Uint8Array> {
  #items: Uint8Array[] = [];
  #head = 0;
  #waiting: ((result: IteratorResult<Uint8Array>) => void) | undefined;
  #ended = false;
  drops = 0;
  constructor(readonly capacity: number) {}

  push(item: Uint8Array): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: item, done: false });
      return;
    }
    if (this.#items.length - this.#head >= this.capacity) {
      this.#head++;
      this.drops++;
    }
    this.#items.push(item);
  }

  end(): void {
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.#next(),
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
