/**
 * Local indices: the receiver field of every message addressed to us. Each names a
 * pending initiation or a keypair of one peer; a collision with an index in use is drawn again.
 */
import type { Entropy } from "./entropy.js";
import type { Keypair } from "./keypair.js";

export interface IndexEntry<P> {
  peer: P;
  /** Null while the index belongs to an initiation still awaiting its response. */
  keypair: Keypair | null;
}

export class IndexTable<P> {
  readonly #entries = new Map<number, IndexEntry<P>>();

  get size(): number {
    return this.#entries.size;
  }

  get(index: number): IndexEntry<P> | undefined {
    return this.#entries.get(index);
  }

  /** A fresh index for `entry`. */
  allocate(entropy: Entropy, entry: IndexEntry<P>): number {
    for (;;) {
      const index = entropy.index();
      if (!this.#entries.has(index)) {
        this.#entries.set(index, entry);
        return index;
      }
    }
  }

  delete(index: number): void {
    this.#entries.delete(index);
  }

  /** Frees `k`'s index, unless it already belongs to something else. */
  deleteKeypair(k: Keypair): void {
    if (this.#entries.get(k.localIndex)?.keypair === k) this.#entries.delete(k.localIndex);
  }

  deletePeer(peer: P): void {
    for (const [index, entry] of this.#entries)
      if (entry.peer === peer) this.#entries.delete(index);
  }
}
