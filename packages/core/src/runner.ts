/**
 * One driver for any sans-IO engine (the `Device`, a network stack): every call into the engine is
 * made at the scheduler's `now`, its output is handed on, and one timer is kept so that `tick` runs
 * no later than the deadline the engine returned. The scheduler is the only source of time: real
 * (schedulers.ts, `realTime`) in Node and the browser, virtual (`VirtualScheduler`) in tests and
 * replays.
 */

/** Time and one-shot timers, in milliseconds on one monotonic clock. */
export interface Scheduler {
  now(): number;
  /** Calls `fn` once at time `at` (as soon as possible if that has passed); returns a cancel. */
  at(time: number, fn: () => void): () => void;
}

/** What every engine output carries: when the engine next needs a `tick` (undefined: never). */
export interface Deadlined {
  deadline: number | undefined;
}

export interface RunnerOptions<O extends Deadlined> {
  scheduler: Scheduler;
  /** Runs the engine's timers due at `now`. */
  tick: (now: number) => O;
  /** Receives every output (datagrams to send, packets, events), in call order. */
  output: (out: O) => void;
}

export class DeviceRunner<O extends Deadlined> {
  readonly scheduler: Scheduler;
  readonly #tick: (now: number) => O;
  readonly #output: (out: O) => void;
  #timerAt: number | undefined;
  #cancel: (() => void) | undefined;
  #stopped = false;

  constructor(options: RunnerOptions<O>) {
    this.scheduler = options.scheduler;
    this.#tick = options.tick;
    this.#output = options.output;
  }

  /** Makes one call into the engine now; undefined once stopped. */
  run(call: (now: number) => O): O | undefined {
    if (this.#stopped) return undefined;
    const out = call(this.scheduler.now());
    this.#output(out);
    this.#arm(out.deadline);
    return out;
  }

  /** When the runner's timer fires next, if armed. */
  get timerAt(): number | undefined {
    return this.#timerAt;
  }

  /** Cancels the timer; later calls do nothing. */
  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
    this.#timerAt = undefined;
  }

  /**
   * The timer fires no later than the engine's latest deadline. An armed timer that fires earlier
   * is kept (a tick before the deadline is harmless and returns the deadline again), so a busy
   * tunnel, whose deadline moves on with every packet, does not re-arm a timer per packet.
   */
  #arm(deadline: number | undefined): void {
    if (this.#stopped || deadline === undefined) return;
    if (this.#timerAt !== undefined && this.#timerAt <= deadline) return;
    this.#cancel?.();
    this.#timerAt = deadline;
    this.#cancel = this.scheduler.at(deadline, () => {
      this.#timerAt = undefined;
      this.#cancel = undefined;
      this.run(this.#tick);
    });
  }
}
