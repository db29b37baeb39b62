/**
 * A deadline that a stalled process does not cut short. A timer that fires long after it was due
 * means this process did not run meanwhile (stopped, swapped out, starved of CPU, a tab in the
 * background): what the other side sent in that time is waiting, unread, in the socket. Node runs
 * due timers before it reads sockets, so a plain timeout would give up on an answer that already
 * came (measured: a relay stopped for longer than its hello deadline refused the hello it had
 * received meanwhile with `bad-hello`, which the page takes as final). So a late timer gives that
 * time back, once the process has run again, instead of expiring: in all at most `ms` more.
 */

/** How late a timer may fire before its lateness counts as a stall (a busy event loop's lag). */
export function stallSlackMs(ms: number): number {
  return Math.max(100, ms / 10);
}

export interface Deadline {
  /** Stops the timer; `expire` is not called. */
  cancel(): void;
}

export interface DeadlineOptions {
  /** Monotonic milliseconds (default `performance.now`); tests pass a virtual clock. */
  now?: () => number;
}

/**
 * Calls `expire` once `ms` have passed while this process ran. A timer that fires late by more than
 * `stallSlackMs(ms)` re-arms for its lateness (at most `ms` in all) instead of expiring.
 */
export function deadline(ms: number, expire: () => void, options: DeadlineOptions = {}): Deadline {
  const now = options.now ?? (() => performance.now());
  const slack = stallSlackMs(ms);
  let extensions = 0;
  let due = now() + ms;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = (): void => {
    timer = undefined;
    const late = now() - due;
    if (late > slack && extensions < ms) {
      // Not expired: the process was not running. Let it read what came meanwhile first.
      const grant = Math.min(late, ms - extensions);
      extensions += grant;
      due = now() + grant;
      timer = setTimeout(check, grant);
      return;
    }
    expire();
  };
  timer = setTimeout(check, ms);
  return {
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** Rejects with `error()` once `ms` of this process's running time passed (see `deadline`). */
export function rejectAfter(
  ms: number,
  error: () => Error,
): { expired: Promise<never> } & Deadline {
  let timer: Deadline | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = deadline(ms, () => reject(error()));
  });
  return { expired, cancel: () => timer?.cancel() };
}
