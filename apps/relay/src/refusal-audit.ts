/**
 * Refusals before authentication (of connections and of sessions): every one is counted (the metric, by reason), but only a few
 * per second are logged, so a flood of refused sessions cannot become a flood of log lines. What
 * was not logged is summed up by reason in one line (`flush`, on a timer), so nothing goes unseen.
 */

import type { Logger } from "./logger.js";
import type { RelayCounters } from "./metrics.js";
import { TokenBucket } from "./token-bucket.js";

/** Enough lines to see an attack, not enough to be one. */
export const REFUSAL_LOG_RATE = { perSecond: 2, burst: 10 };

export class RefusalAudit {
  readonly #lines: TokenBucket;
  /** Refusals not logged since the last summary, by reason. */
  readonly #unlogged = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    private readonly counters: RelayCounters,
    now?: () => number,
  ) {
    this.#lines = new TokenBucket(REFUSAL_LOG_RATE.perSecond, REFUSAL_LOG_RATE.burst, now);
  }

  /** Counts a refusal under `reason` and logs it unless the line budget is spent. */
  refuse(reason: string, fields: Record<string, unknown>, what = "session"): void {
    this.counters.refuse(reason);
    if (this.#lines.take(1)) this.log.warn(`${what} refused`, { reason, ...fields });
    else this.#unlogged.set(reason, (this.#unlogged.get(reason) ?? 0) + 1);
  }

  /** One line for the refusals that were not logged since the last call; none when there were none. */
  flush(): void {
    if (this.#unlogged.size === 0) return;
    const byReason = Object.fromEntries(this.#unlogged);
    const total = [...this.#unlogged.values()].reduce((a, b) => a + b, 0);
    this.#unlogged.clear();
    this.log.warn("refusals not logged", { total, byReason });
  }
}
