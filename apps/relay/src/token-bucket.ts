/** A token bucket refilled continuously; `take` never blocks, it only answers yes or no. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    if (!(ratePerSecond > 0) || !(burst > 0)) {
      throw new RangeError("TokenBucket: rate and burst must be positive");
    }
    this.#tokens = burst;
    this.#last = now();
  }

  #refill(now: number = this.now()): void {
    if (now <= this.#last) return;
    this.#tokens = Math.min(
      this.burst,
      this.#tokens + ((now - this.#last) / 1000) * this.ratePerSecond,
    );
    this.#last = now;
  }

  /** Whether `amount` tokens are there at `now` (from the same clock), without taking them. */
  has(amount: number, now: number): boolean {
    this.#refill(now);
    return this.#tokens >= amount;
  }

  /** Takes `amount` tokens that `has` just confirmed; no clock read. */
  takeChecked(amount: number): void {
    this.#tokens -= amount;
  }

  take(amount: number): boolean {
    this.#refill();
    if (this.#tokens < amount) return false;
    this.#tokens -= amount;
    return true;
  }

  /** Milliseconds until `amount` tokens are available. */
  waitMs(amount: number): number {
    this.#refill();
    if (this.#tokens >= amount) return 0;
    return ((amount - this.#tokens) / this.ratePerSecond) * 1000;
  }
}
