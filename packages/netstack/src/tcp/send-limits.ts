/**
 * What held the sender back, in time (as Linux's TCP_INFO "chrono" counters: busy, rwnd_limited,
 * sndbuf_limited): after each send opportunity the connection says which limit it is under, and
 * the time until the next one is counted against that limit.
 */

/**
 * - `cwnd`: data waits and the congestion window has no room for it;
 * - `rwnd`: data waits and the peer's receive window has no room for it;
 * - `sndbuf`: all queued data is sent and the send buffer is full of unacknowledged bytes, so the
 *   application cannot queue more (the buffer is smaller than what the path could hold);
 * - `app`: data in flight or waiting, and none of the above (the application writes too little,
 *   or Nagle waits for a full segment);
 * - `idle`: nothing queued.
 */
export type SendLimit = "cwnd" | "rwnd" | "sndbuf" | "app" | "idle";

/** Milliseconds spent under each limit, `idle` left out. */
export type SendLimitTimes = Record<Exclude<SendLimit, "idle">, number>;

export class SendLimits {
  readonly ms: SendLimitTimes = { cwnd: 0, rwnd: 0, sndbuf: 0, app: 0 };
  #limit: SendLimit = "idle";
  #since = 0;

  /** The limit from `now` on; the time since the last call goes to the limit before. */
  set(limit: SendLimit, now: number): void {
    if (this.#limit !== "idle") this.ms[this.#limit] += Math.max(0, now - this.#since);
    this.#limit = limit;
    this.#since = now;
  }

  get current(): SendLimit {
    return this.#limit;
  }
}
