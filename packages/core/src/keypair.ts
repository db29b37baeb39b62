import { AntiReplayWindow } from "./anti-replay.js";

/**
 * Where a keypair stands among crossing handshakes. Keypairs are compared by rank: a later round
 * beats an earlier one; within one round (handshakes that crossed) the handshake started by the peer
 * with the greater static key wins; the last tiebreak is creation order. Both peers compute the
 * same winner from information both have, which is what makes a collision converge.
 */
export interface Rank {
  round: number;
  winner: boolean;
  sequence: number;
}

export function compareRank(a: Rank, b: Rank): number {
  if (a.round !== b.round) return a.round - b.round;
  if (a.winner !== b.winner) return a.winner ? 1 : -1;
  return a.sequence - b.sequence;
}

/** Transport keys of one completed handshake, with their counters and anti-replay window. */
export class Keypair {
  sendCounter = 0n;
  readonly antiReplay = new AntiReplayWindow();
  /** Responder keypairs may not send until the initiator proves it has them (key confirmation). */
  confirmed: boolean;
  /** Whether any authenticated packet arrived on this keypair. */
  received = false;

  constructor(
    readonly localIndex: number,
    readonly remoteIndex: number,
    public sendKey: Uint8Array,
    public receiveKey: Uint8Array,
    readonly isInitiator: boolean,
    readonly createdAt: number,
    readonly rank: Rank,
  ) {
    this.confirmed = isInitiator;
  }

  zero(): void {
    this.sendKey.fill(0);
    this.receiveKey.fill(0);
  }
}
