/**
 * When to renew a certificate: at two thirds of its lifetime, as Let's Encrypt advises; after a
 * failed attempt, again after a delay that doubles from a minute up to six hours. Time and timers
 * are injected, so the schedule runs on a virtual clock in tests.
 */

export const RETRY_MIN_MS = 60_000;
export const RETRY_MAX_MS = 6 * 60 * 60_000;
/** setTimeout's largest delay; a renewal further away is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Validity {
  validFrom: Date;
  validTo: Date;
}

/** The moment (ms since the epoch) two thirds of the certificate's lifetime have passed. */
export function renewalTime({ validFrom, validTo }: Validity): number {
  const from = validFrom.getTime();
  return from + ((validTo.getTime() - from) * 2) / 3;
}

/** How long to wait after the `failures`-th failure in a row (1, 2, …). */
export function retryDelay(failures: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.max(0, failures - 1));
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface RenewalScheduleOptions {
  /** Wall-clock milliseconds since the epoch (certificates are dated in wall-clock time). */
  now: () => number;
  timers: Timers;
  /** Gets a new certificate; its validity schedules the next renewal. */
  renew: () => Promise<Validity>;
  /** A failed attempt and when the next one is due. */
  onFailure?: (error: unknown, failures: number, retryAt: number) => void;
}

export class RenewalSchedule {
  readonly #options: RenewalScheduleOptions;
  #timer: unknown;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Failed attempts since the last success. */
  failures = 0;
  /** When the next attempt is due (ms since the epoch); undefined while one runs or once stopped. */
  dueAt: number | undefined;

  constructor(options: RenewalScheduleOptions) {
    this.#options = options;
  }

  /** Plans the renewal of `current`; with none, renews at once. */
  start(current: Validity | undefined): void {
    this.#planAt(current ? renewalTime(current) : this.#options.now());
  }

  /** Renews now, whatever the plan (a forced renewal); resolves when the attempt has ended. */
  renewNow(): Promise<void> {
    if (this.#running) return this.#running;
    this.#options.timers.clearTimeout(this.#timer);
    this.dueAt = undefined;
    const attempt = this.#options.renew().then(
      (validity) => {
        this.failures = 0;
        this.#planAt(renewalTime(validity));
      },
      (error: unknown) => {
        this.failures++;
        const retryAt = this.#options.now() + retryDelay(this.failures);
        this.#options.onFailure?.(error, this.failures, retryAt);
        this.#planAt(retryAt);
      },
    );
    this.#running = attempt.finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  stop(): void {
    this.#stopped = true;
    this.#options.timers.clearTimeout(this.#timer);
    this.dueAt = undefined;
  }

  #planAt(at: number): void {
    if (this.#stopped) return;
    this.dueAt = at;
    this.#options.timers.clearTimeout(this.#timer);
    const wait = Math.max(0, at - this.#options.now());
    this.#timer = this.#options.timers.setTimeout(
      () => (at <= this.#options.now() ? void this.renewNow() : this.#planAt(at)),
      Math.min(wait, MAX_TIMER_MS),
    );
  }
}
