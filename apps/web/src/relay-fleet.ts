/**
 * The relays the tunnel may use and in which order: the ranking from the page's measurement
 * (relay-choice.ts), a relay that was lost or could not be reached moved to its end, so the next
 * attempt dials the next-best one; and the moves between relays, for the Status screen.
 */
import type { RelayInUse, RelayMeasurement, RelayMove, RelayTarget } from "./protocol.js";

/** Moves kept for the Status screen. */
const MOVES_KEPT = 10;

export class RelayFleet {
  readonly targets: readonly RelayTarget[];
  #ranking: number[];
  #measurements: RelayMeasurement[] = [];
  #measured = false;
  #moves: RelayMove[] = [];
  /** The relay whose session was lost, until the page is on a relay again. */
  #lost: { from: string; reason: string; since: number } | undefined;

  constructor(targets: readonly RelayTarget[]) {
    this.targets = targets;
    this.#ranking = targets.map((_, i) => i);
  }

  /** More than one relay: measured, watched, moved between. */
  get isFleet(): boolean {
    return this.targets.length > 1;
  }

  /** Whether the fleet still has to be measured (first connect, or every relay failed then). */
  get unmeasured(): boolean {
    return this.isFleet && !this.#measured;
  }

  measured(measurements: RelayMeasurement[], ranking: number[], usable: boolean): void {
    this.#measurements = measurements;
    this.#ranking = ranking;
    this.#measured = usable;
  }

  /**
   * Why the page does not try HTTP/3 at relay `index` when it moves there: the measurement found
   * it only over WebSocket (HTTP/3 blocked or off there). Waiting for HTTP/3 again (up to 5 s)
   * would lengthen every move to it.
   */
  skipNative(index: number): string | undefined {
    const measured = this.#measurements[index];
    return measured?.transport === "websocket"
      ? "HTTP/3 did not reach this relay when the page measured the fleet"
      : undefined;
  }

  /** The relay to dial next. */
  get next(): number {
    return this.#ranking[0]!;
  }

  /** `index` failed: every other relay comes before it. */
  demote(index: number): void {
    this.#ranking = [...this.#ranking.filter((i) => i !== index), index];
  }

  /** The session on `index` ended without the user asking. */
  lost(index: number, reason: string, now: number): void {
    this.demote(index);
    this.#lost ??= { from: this.targets[index]!.name, reason, since: now };
  }

  /** A session on `index` is up: what the Status screen shows. */
  arrived(index: number, reason: string, now: number, wallClock: number): RelayInUse {
    const target = this.targets[index]!;
    const lost = this.#lost;
    this.#lost = undefined;
    const moved = lost !== undefined && lost.from !== target.name;
    if (moved)
      this.#moves = [
        ...this.#moves.slice(-(MOVES_KEPT - 1)),
        {
          at: wallClock,
          from: lost.from,
          to: target.name,
          reason: lost.reason,
          tookMs: Math.round(now - lost.since),
        },
      ];
    return {
      name: target.name,
      url: target.url,
      reason: moved ? `the best of the rest after ${lost.from} was lost (${lost.reason})` : reason,
      measurements: this.#measurements,
      moves: this.#moves,
    };
  }
}
