/**
 * Where one wireguard-go peer's keys live, in the model (device/keypair.go, device/indextable.go):
 * the three keypair slots (`previous`, `current`, and `next`, a responder's keypair waiting for the
 * initiator's first data) and the index table that maps our receiver indices to a pending
 * handshake or a keypair. Sans-IO; the handshake installs keypairs, the receive path confirms them.
 */
import type { AntiReplayWindow, Entropy } from "@wiregate/core";

export interface GoKeypair {
  localIndex: number;
  remoteIndex: number;
  send: Uint8Array;
  recv: Uint8Array;
  sendNonce: bigint;
  created: number;
  isInitiator: boolean;
  antiReplay: AntiReplayWindow;
}

/** What one of our receiver indices names. */
export type IndexEntry = { handshake: true } | { keypair: GoKeypair };

export class GoKeypairs {
  readonly indexTable = new Map<number, IndexEntry>();
  previous: GoKeypair | null = null;
  current: GoKeypair | null = null;
  next: GoKeypair | null = null;
  readonly #entropy: Entropy;

  constructor(entropy: Entropy) {
    this.#entropy = entropy;
  }

  /** A random index no entry holds yet, now naming `entry`. */
  newIndex(entry: IndexEntry): number {
    for (;;) {
      const index = this.#entropy.index();
      if (!this.indexTable.has(index)) {
        this.indexTable.set(index, entry);
        return index;
      }
    }
  }

  /** Whether `index` names our pending handshake (a response's receiver must). */
  namesHandshake(index: number): boolean {
    const entry = this.indexTable.get(index);
    return entry !== undefined && "handshake" in entry;
  }

  /** The keypair `index` names, if it names one (a transport message's receiver). */
  keypair(index: number): GoKeypair | undefined {
    const entry = this.indexTable.get(index);
    return entry && "keypair" in entry ? entry.keypair : undefined;
  }

  /**
   * BeginSymmetricSession's rotation: the handshake's index now names the keypair. An initiator's
   * keypair is current at once; a responder's waits in `next` for the initiator's first data.
   */
  install(keypair: GoKeypair): void {
    this.indexTable.set(keypair.localIndex, { keypair });
    if (keypair.isInitiator) {
      if (this.next) {
        this.#drop(this.previous);
        this.previous = this.next;
        this.next = null;
        this.#drop(this.current);
      } else {
        this.#drop(this.previous);
        this.previous = this.current;
      }
      this.current = keypair;
    } else {
      this.#drop(this.next);
      this.next = keypair;
      this.#drop(this.previous);
      this.previous = null;
    }
  }

  /** ReceivedWithKeypair: data on `next` makes it current. False for any other keypair. */
  confirm(keypair: GoKeypair): boolean {
    if (keypair !== this.next) return false;
    this.#drop(this.previous);
    this.previous = this.current;
    this.current = keypair;
    this.next = null;
    return true;
  }

  #drop(keypair: GoKeypair | null): void {
    if (keypair) this.indexTable.delete(keypair.localIndex);
  }
}
