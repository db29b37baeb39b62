/**
 * Per-peer timers as a fixed table (wireguard-go's timers.go, quinn-proto's `TimerTable`), and a
 * heap of peers keyed by their earliest deadline, so that finding the device's next deadline and
 * the peers due at a tick costs O(log peers), not a scan of every peer.
 */

/** The timers of one peer, in the order they run when several are due at once. */
export const TIMERS = [
  "retransmit",
  "keepalive",
  "newHandshake",
  "zeroKeys",
  "persistentKeepalive",
] as const;
export type TimerName = (typeof TIMERS)[number];

const SLOT: Record<TimerName, number> = {
  retransmit: 0,
  keepalive: 1,
  newHandshake: 2,
  zeroKeys: 3,
  persistentKeepalive: 4,
};

const OFF = Number.POSITIVE_INFINITY;

/** One peer's timers: the time each fires at, or off. */
export class TimerTable {
  readonly #at = new Float64Array(TIMERS.length).fill(OFF);

  set(timer: TimerName, at: number): void {
    this.#at[SLOT[timer]] = at;
  }

  clear(timer: TimerName): void {
    this.#at[SLOT[timer]] = OFF;
  }

  isSet(timer: TimerName): boolean {
    return this.#at[SLOT[timer]] !== OFF;
  }

  /** The first timer, in table order, due at `now`. */
  due(now: number): TimerName | undefined {
    for (let i = 0; i < TIMERS.length; i++) if (this.#at[i]! <= now) return TIMERS[i];
    return undefined;
  }

  /** The earliest deadline, or Infinity when every timer is off. */
  earliest(): number {
    let min = OFF;
    for (let i = 0; i < TIMERS.length; i++) if (this.#at[i]! < min) min = this.#at[i]!;
    return min;
  }

  clearAll(): void {
    this.#at.fill(OFF);
  }
}

/** What the heap needs of an entry: its key and a slot to remember its position in. */
export interface Scheduled {
  deadline: number;
  heapIndex: number;
}

/** A binary min-heap on `deadline`; an entry with an infinite deadline is not in it. */
export class DeadlineHeap<T extends Scheduled> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  /** Puts `item` at its place for `deadline` (inserting, moving or removing it). */
  update(item: T, deadline: number): void {
    item.deadline = deadline;
    const at = item.heapIndex;
    if (deadline === OFF) {
      if (at >= 0) this.remove(item);
      return;
    }
    if (at < 0) {
      item.heapIndex = this.#items.length;
      this.#items.push(item);
      this.#up(item.heapIndex);
      return;
    }
    this.#up(at);
    this.#down(item.heapIndex);
  }

  remove(item: T): void {
    const at = item.heapIndex;
    if (at < 0) return;
    const last = this.#items.pop()!;
    item.heapIndex = -1;
    if (last === item) return;
    this.#items[at] = last;
    last.heapIndex = at;
    this.#up(at);
    this.#down(last.heapIndex);
  }

  /** Every entry due at `now` (deadline <= now), in no particular order; they stay in the heap. */
  due(now: number): T[] {
    const out: T[] = [];
    const stack = [0];
    while (stack.length > 0) {
      const i = stack.pop()!;
      const item = this.#items[i];
      if (!item || item.deadline > now) continue;
      out.push(item);
      stack.push(2 * i + 1, 2 * i + 2);
    }
    return out;
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.deadline <= item.deadline) break;
      items[i] = items[parent]!;
      items[i]!.heapIndex = i;
      i = parent;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const item = items[i]!;
    const n = items.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && items[child + 1]!.deadline < items[child]!.deadline) child++;
      if (items[child]!.deadline >= item.deadline) break;
      items[i] = items[child]!;
      items[i]!.heapIndex = i;
      i = child;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
