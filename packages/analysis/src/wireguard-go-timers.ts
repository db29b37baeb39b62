/**
 * The timers of one wireguard-go peer, in the model (device/timers.go), on virtual time:
 * retransmit (REKEY_TIMEOUT + jitter, given up after MAX_TIMER_HANDSHAKES retries), keepalive after
 * received data, and new-handshake when sent data goes unanswered. Events arm and stop them through
 * wireguard-go's hooks; `tick` runs the expired ones, each expiry acting on the peer.
 */

export const GO_REKEY_TIMEOUT = 5_000;
export const KEEPALIVE_TIMEOUT = 10_000;
const MAX_TIMER_HANDSHAKES = 18;

/** What the expired timers do to their peer. */
export interface GoTimerActions {
  sendHandshakeInitiation(isRetry: boolean): void;
  sendKeepalive(): void;
  debug(text: string): void;
}

/** Jitter in ms (0–333) for each timer that draws one, asked for only when it is armed. */
export interface GoTimerJitter {
  retransmit: () => number;
  newHandshake: () => number;
}

export class GoTimers {
  readonly #jitter: GoTimerJitter;
  readonly #actions: GoTimerActions;
  readonly #timers: { retransmit?: number; keepalive?: number; newHandshake?: number } = {};
  #attempts = 0;
  #needAnotherKeepalive = false;

  constructor(jitter: GoTimerJitter, actions: GoTimerActions) {
    this.#jitter = jitter;
    this.#actions = actions;
  }

  /** The earliest armed timer's time. */
  deadline(): number | undefined {
    const times = Object.values(this.#timers).filter((t): t is number => t !== undefined);
    return times.length ? Math.min(...times) : undefined;
  }

  /** A handshake not sent as a retry starts counting attempts again. */
  resetAttempts(): void {
    this.#attempts = 0;
  }

  handshakeInitiated(now: number): void {
    this.#timers.retransmit = now + GO_REKEY_TIMEOUT + this.#jitter.retransmit();
  }

  handshakeComplete(): void {
    this.#timers.retransmit = undefined;
    this.#attempts = 0;
  }

  anyAuthenticatedPacketSent(): void {
    this.#timers.keepalive = undefined;
  }

  anyAuthenticatedPacketReceived(): void {
    this.#timers.newHandshake = undefined;
  }

  dataSent(now: number): void {
    if (this.#timers.newHandshake === undefined) {
      this.#timers.newHandshake =
        now + KEEPALIVE_TIMEOUT + GO_REKEY_TIMEOUT + this.#jitter.newHandshake();
    }
  }

  dataReceived(now: number): void {
    if (this.#timers.keepalive === undefined) this.#timers.keepalive = now + KEEPALIVE_TIMEOUT;
    else this.#needAnotherKeepalive = true;
  }

  /** Runs the timers due at `now`, retransmit first; an expiry may arm another. */
  tick(now: number): void {
    const t = this.#timers;
    const act = this.#actions;
    for (let guard = 0; guard < 8; guard++) {
      if (t.retransmit !== undefined && t.retransmit <= now) {
        t.retransmit = undefined;
        if (this.#attempts > MAX_TIMER_HANDSHAKES) {
          act.debug(
            `Handshake did not complete after ${MAX_TIMER_HANDSHAKES + 2} attempts, giving up`,
          );
          continue;
        }
        this.#attempts++;
        act.debug(
          `Handshake did not complete after 5 seconds, retrying (try ${this.#attempts + 1})`,
        );
        act.sendHandshakeInitiation(true);
      } else if (t.keepalive !== undefined && t.keepalive <= now) {
        t.keepalive = undefined;
        act.sendKeepalive();
        if (this.#needAnotherKeepalive) {
          this.#needAnotherKeepalive = false;
          t.keepalive = now + KEEPALIVE_TIMEOUT;
        }
      } else if (t.newHandshake !== undefined && t.newHandshake <= now) {
        t.newHandshake = undefined;
        act.debug(
          `Retrying handshake because we stopped hearing back after ${(KEEPALIVE_TIMEOUT + GO_REKEY_TIMEOUT) / 1000} seconds`,
        );
        act.sendHandshakeInitiation(false);
      } else return;
    }
  }
}
