/** The retransmission timeout (RFC 6298), with Linux's 200 ms floor instead of the RFC's 1 s. */
export const INITIAL_RTO = 1000; // RFC 6298 §2.1
export const MIN_RTO = 200;
export const MAX_RTO = 60_000; // RFC 6298 §2.5 allows an upper bound of at least 60 s

export class RttEstimator {
  srtt: number | undefined;
  rttvar = 0;
  /** The current timeout before backoff. */
  rto = INITIAL_RTO;
  /** Consecutive expirations; the timer backs off exponentially (RFC 6298 §5.5). */
  backoff = 0;

  /** A round-trip measurement (RFC 6298 §2.2, §2.3; α = 1/8, β = 1/4, K = 4, G = 1 ms). */
  sample(rtt: number): void {
    const r = Math.max(rtt, 0);
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(MAX_RTO, Math.max(MIN_RTO, this.srtt + Math.max(1, 4 * this.rttvar)));
    this.backoff = 0;
  }

  /** The timeout to arm now, with exponential backoff applied. */
  get current(): number {
    return Math.min(MAX_RTO, this.rto * 2 ** this.backoff);
  }
}
