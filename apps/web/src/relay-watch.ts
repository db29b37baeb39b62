/**
 * Notices a relay that went away without closing the session: a killed relay process leaves a
 * QUIC connection that a browser may keep for its whole idle timeout (tens of seconds). While the
 * page has other relays to move to, it asks its relay for its stats on the control stream every
 * second, one request at a time, and calls the session lost when one stays unanswered for
 * LOST_AFTER_TICKS ticks. Counted in ticks, not in elapsed time, so a page whose worker was busy or
 * throttled does not give up on a relay that answered meanwhile.
 */
import type { RelayConnection } from "@wiregate/relay-protocol";

export const WATCH_INTERVAL_MS = 1_000;
export const LOST_AFTER_TICKS = 3;

export class RelayWatch {
  readonly #conn: Pick<RelayConnection, "stats">;
  readonly #onLost: (detail: string) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Ticks since the pending request was sent; undefined when none is pending. */
  #waiting: number | undefined;

  constructor(conn: Pick<RelayConnection, "stats">, onLost: (detail: string) => void) {
    this.#conn = conn;
    this.#onLost = onLost;
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), WATCH_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    if (this.#waiting !== undefined) {
      this.#waiting++;
      if (this.#waiting >= LOST_AFTER_TICKS) {
        this.stop();
        this.#onLost(
          `the relay did not answer on the control stream for ${(LOST_AFTER_TICKS * WATCH_INTERVAL_MS) / 1000} s`,
        );
      }
      return;
    }
    this.#waiting = 0;
    // A session that closes rejects it: the session's own `closed` says why.
    this.#conn.stats().then(
      () => {
        this.#waiting = undefined;
      },
      () => {},
    );
  }
}
