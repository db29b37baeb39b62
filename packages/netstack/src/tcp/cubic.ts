/**
 * CUBIC's window (RFC 9438), counted in bytes: after a congestion event the window falls to β = 0.7
 * of what it was (not half), then grows along a cubic curve in the time since, back to the window
 * of the event (W_max) and beyond; never slower than Reno would grow it (the Reno-friendly region,
 * §4.3). Random loss on a short path, as in the tunnel, hurts it less than it hurts Reno.
 */
export const CUBIC_BETA = 0.7; // §4.6
const CUBIC_C = 0.4; // §5.1, segments per second cubed
const ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA); // §4.3

export class Cubic {
  readonly #mss: number;
  /** W_max: the window at the last congestion event (bytes). */
  #wMax = 0;
  /** K: seconds from the epoch until the curve is back at W_max. */
  #k = 0;
  /** When the current congestion avoidance epoch began (ms), once it has. */
  #epoch: number | undefined;
  /** W_est: the window Reno would have by now (bytes). */
  #wEst = 0;

  constructor(mss: number) {
    this.#mss = mss;
  }

  get wMax(): number {
    return this.#wMax;
  }

  /**
   * A congestion event with window `w` (§4.6, §4.7 fast convergence): returns the new ssthresh.
   * The next congestion avoidance starts a new epoch.
   */
  reduce(w: number): number {
    this.#wMax = w < this.#wMax ? (w * (1 + CUBIC_BETA)) / 2 : w;
    this.#epoch = undefined;
    return Math.max(Math.floor(w * CUBIC_BETA), 2 * this.#mss);
  }

  /** The window after `acked` bytes are acknowledged at `now` (ms) in congestion avoidance. */
  grow(cwnd: number, acked: number, now: number, rtt: number): number {
    const mss = this.#mss;
    if (this.#epoch === undefined) {
      // §4.2: a new epoch; from below W_max the curve climbs back to it in K seconds.
      this.#epoch = now;
      this.#k = cwnd < this.#wMax ? Math.cbrt((this.#wMax - cwnd) / mss / CUBIC_C) : 0;
      if (cwnd >= this.#wMax) this.#wMax = cwnd;
      this.#wEst = cwnd;
    }
    const t = (now - this.#epoch) / 1000;
    const curve = (s: number) => CUBIC_C * (s - this.#k) ** 3 * mss + this.#wMax;
    // §4.3: Reno's growth, α per round trip below W_max and one segment above it.
    const alpha = this.#wEst >= this.#wMax ? 1 : ALPHA;
    this.#wEst += (alpha * mss * acked) / cwnd;
    if (curve(t) < this.#wEst) return Math.max(cwnd, this.#wEst);
    // §4.4–4.5: towards the curve one round trip ahead, at most 1.5 × per round trip.
    const target = Math.min(Math.max(curve(t + rtt / 1000), cwnd), 1.5 * cwnd);
    return cwnd + ((target - cwnd) * acked) / cwnd;
  }
}
