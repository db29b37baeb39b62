/**
 * What every part of the engine shares during one call: the device's tables and settings, the
 * caller's `now`, and the output being collected. The `Device` owns one; the modules that do the
 * work (handshake, transport, keypair slots, peer timers) take it as their first argument.
 */
import type { HandshakeGate } from "./admission.js";
import { AllowedIps } from "./allowed-ips.js";
import type { CryptoBackend } from "./crypto/types.js";
import type { DeviceOptions, DeviceRejection, Output } from "./device-types.js";
import type { Entropy } from "./entropy.js";
import { checkTransition, type Handshake } from "./handshake-state.js";
import { IndexTable } from "./index-table.js";
import { formatKeyLogLine } from "./keylog.js";
import { ZERO_KEY } from "./noise.js";
import type { Peer } from "./peer.js";
import { DeadlineHeap, type TimerName } from "./timers.js";
import type { TraceEvent, TraceKind, TraceLevel } from "./trace.js";

export interface Settings {
  readonly c: CryptoBackend;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly entropy: Entropy;
  readonly wallClock: () => bigint;
  readonly keyLog: boolean;
  readonly mtu: number;
  readonly keepBoth: boolean;
  readonly admitPeer: DeviceOptions["admitPeer"];
  readonly gate: HandshakeGate;
}

function emptyOutput(): Output {
  return { datagrams: [], packets: [], events: [], keyLog: [], deadline: undefined };
}

export class Context {
  readonly peers = new Map<string, Peer>();
  readonly routes = new AllowedIps<Peer>();
  readonly indices = new IndexTable<Peer>();
  readonly rejections = new Map<DeviceRejection, number>();
  /** Peers by earliest timer. */
  readonly timers = new DeadlineHeap<Peer>();
  /** Peers whose timers changed during this call; the heap learns of them at `finish`. */
  readonly #touched = new Set<Peer>();
  /** Keypair creation order: the last tiebreak of a rank. */
  sequence = 0;
  peerOrder = 0;
  now = 0;
  out: Output = emptyOutput();

  constructor(readonly s: Settings) {}

  begin(now: number): void {
    this.now = now;
    this.out = emptyOutput();
  }

  finish(): Output {
    for (const peer of this.#touched) this.timers.update(peer, peer.timers.earliest());
    this.#touched.clear();
    const out = this.out;
    out.deadline = this.timers.peek()?.deadline;
    this.out = emptyOutput();
    return out;
  }

  event(
    peer: Peer | undefined,
    kind: TraceKind,
    level: TraceLevel,
    fields: Omit<TraceEvent, "time" | "kind" | "level" | "peer">,
  ): void {
    const event: TraceEvent = { time: this.now, kind, level, ...fields };
    if (peer) event.peer = peer.id;
    this.out.events.push(event);
  }

  reject(peer: Peer | undefined, reason: DeviceRejection, detail: string, fields = {}): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
    this.event(peer, "rejected", "debug", { ...fields, reason: `${reason}: ${detail}` });
  }

  log(type: Parameters<typeof formatKeyLogLine>[0], key: Uint8Array): void {
    this.out.keyLog.push(formatKeyLogLine(type, key));
  }

  /** Queues `data` for the peer's endpoint; false (and a rejection) when it has none. */
  transmit(peer: Peer, data: Uint8Array): boolean {
    if (!peer.endpoint) {
      this.reject(peer, "no-endpoint", "peer has no known endpoint");
      return false;
    }
    this.out.datagrams.push({ to: { ...peer.endpoint }, data });
    peer.txBytes += data.length;
    return true;
  }

  /** Moves the peer's handshake to `to`, tracing the change of state. */
  setHandshake(peer: Peer, to: Handshake, reason: string): void {
    const from = peer.handshake.kind;
    checkTransition(from, to.kind);
    peer.handshake = to;
    if (from !== to.kind) {
      this.event(peer, "handshake-state", "debug", { from, to: to.kind, reason });
    }
  }

  setTimer(peer: Peer, timer: TimerName, after: number): void {
    peer.timers.set(timer, this.now + after);
    this.#touched.add(peer);
  }

  clearTimer(peer: Peer, timer: TimerName): void {
    peer.timers.clear(timer);
    this.#touched.add(peer);
  }

  /** Forgets a peer's timers (it was removed). */
  dropTimers(peer: Peer): void {
    peer.timers.clearAll();
    this.#touched.delete(peer);
    this.timers.remove(peer);
  }

  /** A fresh ephemeral private key, logged when key logging is on. */
  ephemeral(peer: Peer): Uint8Array {
    const key = this.s.entropy.ephemeral();
    if (this.s.keyLog) {
      this.log("LOCAL_EPHEMERAL_PRIVATE_KEY", key);
      if (peer.presharedKey !== ZERO_KEY) this.log("PRESHARED_KEY", peer.presharedKey);
    }
    return key;
  }
}
