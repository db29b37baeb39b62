/**
 * The sender's SACK scoreboard (RFC 6675 §3–4): which bytes above SND.UNA the peer reports holding,
 * which holes count as lost, the pipe estimate and the next hole to retransmit. Bounded: at most
 * MAX_RANGES ranges are kept (the lowest ones, which matter first for recovery).
 */
import { type Seq, seqDiff, seqGt, seqLt, seqMax, seqMin } from "../seq.js";
import type { SackBlock } from "./segment.js";

const MAX_RANGES = 32;
/** RFC 6675 DupThresh: three segments (or three discontiguous SACKed ranges) above a hole. */
const DUP_THRESH = 3;

export class Scoreboard {
  /** SACKed ranges above SND.UNA, sorted, disjoint and not adjacent. */
  #ranges: SackBlock[] = [];
  /** RFC 6675 HighRxt: the end of the highest retransmission in this recovery. */
  highRxt: Seq = 0;

  get empty(): boolean {
    return this.#ranges.length === 0;
  }

  /** Adds the blocks of an ACK that lie within (SND.UNA, SND.MAX]; D-SACK and stale ones are ignored. */
  update(blocks: readonly SackBlock[], sndUna: Seq, sndMax: Seq): void {
    for (const b of blocks) {
      const left = seqMax(b.left, sndUna);
      const right = seqMin(b.right, sndMax);
      if (seqGt(right, left)) this.#insert(left, right);
    }
  }

  /** SND.UNA moved up: forget what it covers. */
  advance(sndUna: Seq): void {
    while (this.#ranges.length > 0 && !seqGt(this.#ranges[0]!.right, sndUna)) this.#ranges.shift();
    const first = this.#ranges[0];
    if (first && seqLt(first.left, sndUna)) first.left = sndUna;
    if (seqLt(this.highRxt, sndUna)) this.highRxt = sndUna;
  }

  clear(): void {
    this.#ranges = [];
  }

  /**
   * The end of the lost region (RFC 6675 IsLost): every un-SACKed byte below it has DupThresh
   * SACKed ranges or more than (DupThresh − 1) segments of SACKed bytes above it.
   */
  lostBelow(sndUna: Seq, mss: number): Seq {
    let bytes = 0;
    for (let i = this.#ranges.length - 1, count = 1; i >= 0; i--, count++) {
      const r = this.#ranges[i]!;
      bytes += seqDiff(r.right, r.left);
      if (count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) return r.left;
    }
    return sndUna;
  }

  /** Un-SACKed bytes in [from, to). */
  unsacked(from: Seq, to: Seq): number {
    if (!seqGt(to, from)) return 0;
    let n = seqDiff(to, from);
    for (const r of this.#ranges) {
      const left = seqMax(r.left, from);
      const right = seqMin(r.right, to);
      if (seqGt(right, left)) n -= seqDiff(right, left);
    }
    return n;
  }

  /**
   * RFC 6675 SetPipe: bytes the network still holds. Un-SACKed bytes count once unless lost, and
   * once more when retransmitted in this recovery (below HighRxt).
   */
  pipe(sndUna: Seq, sndMax: Seq, mss: number): number {
    const lost = seqMin(this.lostBelow(sndUna, mss), sndMax);
    return (
      this.unsacked(sndUna, sndMax) -
      this.unsacked(sndUna, lost) +
      this.unsacked(sndUna, seqMin(this.highRxt, sndMax))
    );
  }

  /** RFC 6675 NextSeg rule 1: the first lost, un-SACKed hole at or above HighRxt, and its length. */
  nextHole(sndUna: Seq, mss: number): { seq: Seq; length: number } | undefined {
    const lost = this.lostBelow(sndUna, mss);
    let seq = seqMax(this.highRxt, sndUna);
    for (const r of this.#ranges) {
      if (!seqLt(seq, lost)) return undefined;
      if (seqLt(seq, r.left)) return { seq, length: seqDiff(seqMin(r.left, lost), seq) };
      if (seqLt(seq, r.right)) seq = r.right;
    }
    return undefined;
  }

  #insert(left: Seq, right: Seq): void {
    const kept: SackBlock[] = [];
    let merged = { left, right };
    let placed = false;
    for (const r of this.#ranges) {
      if (seqLt(r.right, merged.left)) kept.push(r);
      else if (seqGt(r.left, merged.right)) {
        if (!placed) kept.push(merged);
        placed = true;
        kept.push(r);
      } else merged = { left: seqMin(r.left, merged.left), right: seqMax(r.right, merged.right) };
    }
    if (!placed) kept.push(merged);
    this.#ranges = kept.length > MAX_RANGES ? kept.slice(0, MAX_RANGES) : kept;
  }

  /** The ranges, for tests. */
  get ranges(): readonly SackBlock[] {
    return this.#ranges;
  }
}
