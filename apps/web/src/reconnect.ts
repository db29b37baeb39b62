/**
 * When the tunnel worker dials the relay again after its session ended without the user asking:
 * exponential backoff (0.5 s doubling to 10 s, ±20 % jitter so that pages a relay restart cut off
 * do not all come back at once), and never after a refusal that a retry cannot fix.
 */
import { type ErrorCode, isLateHello, RelayError } from "@wiregate/relay-protocol";

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
/** Refusals that a retry cannot fix. */
const FATAL: ReadonlySet<string> = new Set<ErrorCode>([
  "unauthorized",
  // The token's own answers: every relay of a fleet would give them alike.
  "token-expired",
  "forbidden",
  "unknown-upstream",
  "version",
  "bad-hello",
  "bad-frame",
]);

export interface ReconnectOptions {
  /** Dials again; called when a scheduled retry is due. */
  retry: () => void;
  /** Uniform in [0, 1), for the jitter. */
  random?: () => number;
}

export class Reconnect {
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #retry: () => void;
  readonly #random: () => number;

  constructor(options: ReconnectOptions) {
    this.#retry = options.retry;
    this.#random = options.random ?? Math.random;
  }

  /** A refusal that a retry cannot fix, on this relay or on another of its fleet. */
  static isFinal(code: string): boolean {
    return FATAL.has(code);
  }

  /**
   * The code a failed dial counts as: the relay's, `transport` for anything else, and `timeout`
   * for a hello the relay refused as late (`bad-hello` by its message, `isLateHello`): this page
   * was slow to say it (a starved phone, a frozen tab), which the next attempt may not be.
   */
  static codeOf(error: unknown): string {
    if (!(error instanceof RelayError)) return "transport";
    return error.frame && isLateHello(error.frame) ? "timeout" : error.code;
  }

  /** Retries scheduled since the last `reset`. */
  get attempt(): number {
    return this.#attempt;
  }

  /** A session is up (or the user connects anew): the next failure starts the backoff again. */
  reset(): void {
    this.#attempt = 0;
  }

  /**
   * The session failed with `code`: schedules the next attempt and says when, or returns null when
   * the refusal is final.
   */
  failed(code: string): { attempt: number; delayMs: number } | null {
    if (Reconnect.isFinal(code)) return null;
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.#attempt);
    const delayMs = base * (0.8 + 0.4 * this.#random());
    this.#attempt++;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#retry, delayMs);
    return { attempt: this.#attempt, delayMs };
  }

  /** Drops a scheduled retry. */
  cancel(): void {
    clearTimeout(this.#timer);
  }
}
