/**
 * The sender's record of what is in flight, for connections whose peer permits SACK: one entry per
 * transmitted segment (its sequence range, when it last went out, whether it was retransmitted,
 * SACKed or is deemed lost), and RACK loss detection (RFC 8985 §6) over it. A segment is lost once
 * a segment sent after it has been delivered and a reordering window has passed, so a lost
 * retransmission is found like any other loss, in about a round trip, instead of by a timeout.
 *
 * Bounded by what the connection may have in flight: one entry per segment between SND.UNA and
 * SND.MAX, which the congestion window and the send buffer bound.
 */
import { type Seq, seqDiff, seqGe, seqGt, seqLe, seqLt } from "../seq.js";
import type { SackBlock } from "./segment.js";

/** RFC 8985 §6.2: DupThresh, for the reordering window before reordering has been seen. */
const DUP_THRESH = 3;

export interface Sent {
  start: Seq;
  /** End of the range in sequence space (a FIN counts one). */
  end: Seq;
  /** When this range last went out. */
  time: number;
  retransmitted: boolean;
  sacked: boolean;
  /** Deemed lost and not yet sent again. */
  lost: boolean;
}

const length = (s: Sent) => seqDiff(s.end, s.start);

export class SentLog {
  /** Sorted by sequence, contiguous, from SND.UNA to SND.MAX. */
  #log: Sent[] = [];
  #bytes = 0;
  #sacked = 0;
  #sackedSegments = 0;
  #lost = 0;
  /** RACK.min_RTT: the smallest round trip seen (ms). */
  minRtt = Number.POSITIVE_INFINITY;
  /** RACK.rtt: the round trip of the most recently sent segment delivered. */
  rtt = 0;
  /** RACK.xmit_ts and RACK.end_seq: the most recently sent segment delivered. */
  #xmitTime = Number.NEGATIVE_INFINITY;
  #endSeq: Seq = 0;
  /** RACK.fack: the highest sequence delivered; below it, a first transmission means reordering. */
  #fack: Seq | undefined;
  /** RACK.reordering_seen. */
  reorderingSeen = false;

  get entries(): readonly Sent[] {
    return this.#log;
  }

  get empty(): boolean {
    return this.#log.length === 0;
  }

  /** RFC 6675 pipe, with RACK's losses: bytes sent and neither delivered nor deemed lost. */
  get pipe(): number {
    return this.#bytes - this.#sacked - this.#lost;
  }

  /** Bytes deemed lost and not yet sent again. */
  get lostBytes(): number {
    return this.#lost;
  }

  /** The first segment deemed lost and not yet sent again (what to retransmit next). */
  firstLost(): Sent | undefined {
    if (this.#lost === 0) return undefined;
    return this.#log.find((s) => s.lost);
  }

  /**
   * The highest segment sent that is not a bare FIN at `fin` (what a tail loss probe sends again
   * when there is nothing new: a bare FIN beyond a hole would draw no SACK block).
   */
  lastData(fin: Seq | undefined): Sent | undefined {
    const last = this.#log[this.#log.length - 1];
    if (last && last.start === fin && length(last) === 1)
      return this.#log[this.#log.length - 2] ?? last;
    return last;
  }

  /** `[start, end)` went out at `now`: a new segment at SND.MAX, or a retransmission below it. */
  sent(start: Seq, end: Seq, now: number, sndMax: Seq): void {
    if (!seqGt(end, start)) return;
    if (seqGe(start, sndMax)) {
      this.#log.push({ start, end, time: now, retransmitted: false, sacked: false, lost: false });
      this.#bytes += seqDiff(end, start);
      return;
    }
    this.#split(start);
    this.#split(end);
    for (const s of this.#log) {
      if (seqGe(s.start, end)) break;
      if (seqLt(s.start, start)) continue;
      if (s.lost) {
        s.lost = false;
        this.#lost -= length(s);
      }
      s.time = now;
      s.retransmitted = true;
    }
    // A retransmission that also runs past SND.MAX (a grown segment) logs the new part.
    if (seqGt(end, sndMax)) this.sent(sndMax, end, now, sndMax);
  }

  /**
   * An ACK: SND.UNA moved to `una` and the peer reports `blocks`. Every segment newly delivered
   * updates RACK (RFC 8985 §6.2 steps 1–3). Returns whether anything was newly delivered.
   */
  acked(una: Seq, blocks: readonly SackBlock[] | undefined, now: number): boolean {
    let delivered = false;
    let i = 0;
    while (i < this.#log.length && seqLe(this.#log[i]!.end, una)) {
      const s = this.#log[i]!;
      if (!s.sacked) {
        this.#deliver(s, now);
        delivered = true;
      }
      this.#forget(s);
      i++;
    }
    if (i > 0) this.#log.splice(0, i);
    const first = this.#log[0];
    if (first && seqLt(first.start, una)) {
      // Partly acknowledged (the peer took part of a segment): keep the rest.
      if (!first.sacked) {
        this.#deliver(first, now);
        delivered = true;
      }
      const cut = seqDiff(una, first.start);
      this.#bytes -= cut;
      if (first.sacked) this.#sacked -= cut;
      if (first.lost) this.#lost -= cut;
      first.start = una;
    }
    for (const b of blocks ?? []) {
      if (!seqGt(b.right, una)) continue; // D-SACK or stale (RFC 2883)
      let k = this.#index(b.left);
      for (; k < this.#log.length; k++) {
        const s = this.#log[k]!;
        if (seqGt(s.end, b.right)) break;
        if (s.sacked || seqLt(s.start, b.left)) continue;
        s.sacked = true;
        this.#sacked += length(s);
        this.#sackedSegments++;
        if (s.lost) {
          s.lost = false;
          this.#lost -= length(s);
        }
        this.#deliver(s, now);
        delivered = true;
      }
    }
    return delivered;
  }

  /**
   * RACK_detect_loss (RFC 8985 §6.2 step 5): marks lost every segment sent before the most
   * recently delivered one by more than its round trip and the reordering window. Returns the
   * bytes newly deemed lost and, when some segment may yet be lost, how long until it is (the
   * reordering timer).
   */
  detectLoss(now: number, inRecovery: boolean, srtt: number): { lost: number; wait?: number } {
    const window = this.#reorderingWindow(inRecovery, srtt);
    let lost = 0;
    let wait: number | undefined;
    for (const s of this.#log) {
      if (s.sacked || s.lost) continue;
      const after =
        s.time > this.#xmitTime || (s.time === this.#xmitTime && seqGt(s.end, this.#endSeq));
      if (after) continue;
      const remaining = s.time + this.rtt + window - now;
      if (remaining <= 0) {
        s.lost = true;
        this.#lost += length(s);
        lost += length(s);
      } else wait = Math.max(wait ?? 0, remaining);
    }
    return wait === undefined ? { lost } : { lost, wait };
  }

  /**
   * A retransmission timeout (RFC 8985 §6.3): everything not SACKed is deemed lost. `forgetSacks`
   * also drops what the peer SACKed, for a receiver that may have reneged (RFC 2018 §8).
   */
  timedOut(forgetSacks: boolean): void {
    for (const s of this.#log) {
      if (forgetSacks && s.sacked) {
        s.sacked = false;
        this.#sacked -= length(s);
        this.#sackedSegments--;
      }
      if (!s.sacked && !s.lost) {
        s.lost = true;
        this.#lost += length(s);
      }
    }
  }

  clear(): void {
    this.#log = [];
    this.#bytes = this.#sacked = this.#sackedSegments = this.#lost = 0;
  }

  /** RFC 8985 §6.2 step 4 (without the D-SACK multiplier). */
  #reorderingWindow(inRecovery: boolean, srtt: number): number {
    if (!this.reorderingSeen && (inRecovery || this.#sackedSegments >= DUP_THRESH)) return 0;
    if (!Number.isFinite(this.minRtt)) return 0;
    return Math.min(this.minRtt / 4, srtt);
  }

  /** RFC 8985 §6.2 steps 1–3 for one delivered segment. */
  #deliver(s: Sent, now: number): void {
    const rtt = now - s.time;
    if (s.retransmitted) {
      // Which transmission was delivered is ambiguous; a round trip shorter than any seen means
      // the original's (step 2, as Linux decides it: the timestamp echo cannot tell, as a
      // receiver echoes no timestamp of a segment beyond a hole, RFC 7323 §4.3).
      if (rtt < this.minRtt) return;
    } else {
      if (this.#fack === undefined || seqGt(s.end, this.#fack)) this.#fack = s.end;
      else if (seqLt(s.end, this.#fack)) this.reorderingSeen = true;
    }
    this.minRtt = Math.min(this.minRtt, rtt);
    if (s.time > this.#xmitTime || (s.time === this.#xmitTime && seqGt(s.end, this.#endSeq))) {
      this.#xmitTime = s.time;
      this.#endSeq = s.end;
      this.rtt = rtt;
    }
  }

  #forget(s: Sent): void {
    this.#bytes -= length(s);
    if (s.sacked) {
      this.#sacked -= length(s);
      this.#sackedSegments--;
    }
    if (s.lost) this.#lost -= length(s);
  }

  /** Index of the first entry ending after `seq` (binary search). */
  #index(seq: Seq): number {
    let lo = 0;
    let hi = this.#log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqGt(this.#log[mid]!.end, seq)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Makes `seq` an entry boundary, splitting the entry that spans it. */
  #split(seq: Seq): void {
    const i = this.#index(seq);
    const s = this.#log[i];
    if (!s || !seqGt(seq, s.start)) return;
    const tail = { ...s, start: seq };
    s.end = seq;
    this.#log.splice(i + 1, 0, tail);
    if (s.sacked) this.#sackedSegments++;
  }
}
