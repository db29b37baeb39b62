/** Counts holders per key and in total; refuses a new holder beyond either limit. */
export class KeyedBudget {
  readonly #perKey = new Map<string, number>();
  #total = 0;

  constructor(readonly limits: { total: number; perKey: number }) {}

  get total(): number {
    return this.#total;
  }

  count(key: string): number {
    return this.#perKey.get(key) ?? 0;
  }

  /** Why a new holder for `key` is refused ("total" or "per-key"), or undefined if it fits. */
  check(key: string): "total" | "per-key" | undefined {
    if (this.#total >= this.limits.total) return "total";
    if (this.count(key) >= this.limits.perKey) return "per-key";
    return undefined;
  }

  /** Takes a slot if one is free; returns whether it did. */
  tryTake(key: string): boolean {
    if (this.check(key) !== undefined) return false;
    this.#perKey.set(key, this.count(key) + 1);
    this.#total++;
    return true;
  }

  /** Gives a slot back; a key that holds none is ignored. */
  release(key: string): void {
    const held = this.count(key);
    if (held === 0) return;
    if (held === 1) this.#perKey.delete(key);
    else this.#perKey.set(key, held - 1);
    this.#total--;
  }
}
