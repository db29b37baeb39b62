/**
 * The out-of-order queue: segments that arrived beyond RCV.NXT, kept (bounded) until the gap before
 * them is filled, and the SACK blocks that describe them (RFC 2018 §4).
 */
import { type Seq, seqAdd, seqDiff, seqGt, seqLt } from "../seq.js";
import type { SackBlock } from "./segment.js";

interface Piece {
  seq: Seq;
  data: Uint8Array;
}

export class Reassembly {
  readonly maxPieces: number;
  /** Sorted by sequence, non-overlapping. */
  #pieces: Piece[] = [];
  /** Sequence numbers of recently received segments, newest first (for SACK block order). */
  #recent: Seq[] = [];
  #bytes = 0;

  constructor(maxPieces: number) {
    this.maxPieces = maxPieces;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get empty(): boolean {
    return this.#pieces.length === 0;
  }

  /**
   * Keeps the parts of `data` (at `seq`) not already held. The caller has trimmed it to the
   * receive window. Returns false when the queue is full and nothing new could be kept.
   */
  insert(seq: Seq, data: Uint8Array): boolean {
    const end = seqAdd(seq, data.length);
    const fresh: Piece[] = [];
    let cursor = seq;
    for (const p of this.#pieces) {
      const pEnd = seqAdd(p.seq, p.data.length);
      if (!seqGt(pEnd, cursor)) continue;
      if (!seqLt(p.seq, end)) break;
      if (seqLt(cursor, p.seq)) {
        fresh.push({ seq: cursor, data: data.subarray(seqDiff(cursor, seq), seqDiff(p.seq, seq)) });
      }
      cursor = pEnd;
    }
    if (seqLt(cursor, end)) fresh.push({ seq: cursor, data: data.subarray(seqDiff(cursor, seq)) });
    this.#remember(seq);
    if (fresh.length === 0) return true;
    if (this.#pieces.length + fresh.length > this.maxPieces) return false;
    for (const f of fresh) {
      const copy = { seq: f.seq, data: f.data.slice() };
      let i = this.#pieces.length;
      while (i > 0 && seqGt(this.#pieces[i - 1]!.seq, f.seq)) i--;
      this.#pieces.splice(i, 0, copy);
      this.#bytes += copy.data.length;
    }
    return true;
  }

  /** Removes and returns the data that now continues `rcvNxt`, in order. */
  take(rcvNxt: Seq): Uint8Array[] {
    const out: Uint8Array[] = [];
    let next = rcvNxt;
    while (this.#pieces.length > 0) {
      const p = this.#pieces[0]!;
      if (seqGt(p.seq, next)) break;
      this.#pieces.shift();
      this.#bytes -= p.data.length;
      const skip = seqDiff(next, p.seq);
      if (skip < p.data.length) {
        out.push(p.data.subarray(skip));
        next = seqAdd(p.seq, p.data.length);
      }
    }
    return out;
  }

  /** Forgets everything (the connection is gone). */
  clear(): void {
    this.#pieces = [];
    this.#recent = [];
    this.#bytes = 0;
  }

  /** Up to `max` SACK blocks; the first holds the most recently received segment (RFC 2018 §4). */
  sackBlocks(max: number): SackBlock[] {
    const blocks: SackBlock[] = [];
    for (const p of this.#pieces) {
      const last = blocks[blocks.length - 1];
      const pEnd = seqAdd(p.seq, p.data.length);
      if (last && last.right === p.seq) last.right = pEnd;
      else blocks.push({ left: p.seq, right: pEnd });
    }
    const chosen: SackBlock[] = [];
    const contains = (b: SackBlock, s: Seq) => !seqLt(s, b.left) && seqLt(s, b.right);
    for (const s of this.#recent) {
      const b = blocks.find((x) => contains(x, s));
      if (b && !chosen.includes(b)) chosen.push(b);
    }
    for (const b of blocks) if (!chosen.includes(b)) chosen.push(b);
    return chosen.slice(0, max);
  }

  #remember(seq: Seq): void {
    this.#recent = [seq, ...this.#recent.filter((s) => s !== seq)].slice(0, 4);
  }
}
