/**
 * Congestion control, counted in bytes: NewReno's (RFC 5681 §3, RFC 6582 §3.2), or with `cubic` its
 * window growth and reduction replaced by CUBIC's (RFC 9438, cubic.ts), as Linux ships it. The connection tells
 * it about ACKs, duplicate ACKs and timeouts; it answers with the window and what to retransmit.
 * With SACK (`sack`), loss recovery follows RFC 6675 instead: the window is set to ssthresh once,
 * neither inflated per duplicate nor deflated per partial ACK, and the connection sends what the
 * pipe estimate allows; RACK (rack.ts, recovery.ts) decides what is lost.
 */
import { type Seq, seqGe } from "../seq.js";
import { Cubic } from "./cubic.js";

export const INITIAL_WINDOW_SEGMENTS = 10; // RFC 6928, as Linux
const DUP_ACK_THRESHOLD = 3;

export class CongestionControl {
  cwnd: number;
  ssthresh = 0x7fffffff;
  dupAcks = 0;
  /** RFC 6582 "recover": the highest sequence sent when fast recovery began. */
  recover: Seq | undefined;
  /** Loss recovery by SACK and RACK (RFC 6675, RFC 8985) instead of NewReno's. */
  sack = false;
  #mss: number;
  #acked = 0;
  #cubic: Cubic | undefined;

  constructor(mss: number, cubic = false) {
    this.#mss = mss;
    this.cwnd = INITIAL_WINDOW_SEGMENTS * mss;
    this.#cubic = cubic ? new Cubic(mss) : undefined;
  }

  get cubic(): Cubic | undefined {
    return this.#cubic;
  }

  get inRecovery(): boolean {
    return this.recover !== undefined;
  }

  setMss(mss: number): void {
    this.#mss = mss;
    if (this.#cubic) this.#cubic = new Cubic(mss);
    this.cwnd = Math.max(this.cwnd, INITIAL_WINDOW_SEGMENTS * mss);
  }

  /**
   * New data acknowledged (`acked` bytes, up to `ack`, at `now` with round trip `rtt`, both ms).
   * Returns "retransmit" on a partial ACK in fast recovery (RFC 6582 §3.2 step 5: the next hole is
   * resent at once).
   */
  onAck(
    acked: number,
    ack: Seq,
    flight: number,
    now: number,
    rtt: number,
  ): "retransmit" | undefined {
    this.dupAcks = 0;
    if (this.recover !== undefined) {
      if (this.sack) {
        if (seqGe(ack, this.recover)) this.recover = undefined; // RFC 6675 §5 step (A)
        return undefined;
      }
      if (seqGe(ack, this.recover)) {
        // Full acknowledgment: deflate the window (RFC 6582 §3.2 step 3, option 1).
        this.cwnd = Math.min(this.ssthresh, Math.max(flight, this.#mss) + this.#mss);
        this.recover = undefined;
        return undefined;
      }
      // Partial acknowledgment: deflate by the amount acked, add back one MSS.
      this.cwnd = Math.max(this.cwnd - acked + this.#mss, this.#mss);
      return "retransmit";
    }
    if (this.cwnd < this.ssthresh) {
      // Slow start (RFC 5681 §3.1) counting bytes as Linux does: an ACK that covers several
      // segments (our caller batches arrivals) grows the window by all of them, up to ssthresh.
      this.cwnd = Math.min(this.cwnd + acked, Math.max(this.ssthresh, this.cwnd + this.#mss));
    } else if (this.#cubic) {
      this.cwnd = this.#cubic.grow(this.cwnd, acked, now, rtt);
    } else {
      // Congestion avoidance: about one MSS per round trip (RFC 5681 §3.1, byte counting).
      this.#acked += acked;
      if (this.#acked >= this.cwnd) {
        this.#acked -= this.cwnd;
        this.cwnd += this.#mss;
      }
    }
    return undefined;
  }

  /** A duplicate ACK (RFC 5681 §2 definition). Returns "fast-retransmit" on the third. */
  onDuplicateAck(flight: number, highestSent: Seq): "fast-retransmit" | undefined {
    this.dupAcks++;
    if (this.recover !== undefined) {
      if (!this.sack) this.cwnd += this.#mss; // inflate per extra duplicate (RFC 5681 §3.2 step 4)
      return undefined;
    }
    if (this.dupAcks === DUP_ACK_THRESHOLD) {
      this.enterRecovery(flight, highestSent);
      return "fast-retransmit";
    }
    return undefined;
  }

  /** Fast recovery begins (RFC 5681 §3.2 steps 2–3; RFC 6675 §5 step (4.2) with SACK). */
  enterRecovery(flight: number, highestSent: Seq): void {
    this.ssthresh = this.#reduced(flight);
    this.cwnd = this.sack ? this.ssthresh : this.ssthresh + DUP_ACK_THRESHOLD * this.#mss;
    this.recover = highestSent;
  }

  /** The retransmission timer expired (RFC 5681 §3.1 eq. 4; loss window of one segment). */
  onTimeout(flight: number): void {
    this.ssthresh = this.#reduced(flight); // RFC 9438 §4.8 with CUBIC
    this.cwnd = this.#mss;
    this.dupAcks = 0;
    this.recover = undefined;
    this.#acked = 0;
  }

  /** The new ssthresh after a congestion event: half the flight (RFC 5681 eq. 4), or β of it. */
  #reduced(flight: number): number {
    if (this.#cubic) return this.#cubic.reduce(flight);
    return Math.max(Math.floor(flight / 2), 2 * this.#mss);
  }
}
