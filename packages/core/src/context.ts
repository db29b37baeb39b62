/**
 * What every part of the engine shares during one call: the device's tables and settings, the
 * caller's `now`, and the output being collected. The `Device` owns one; the modules that do the
 * work (handshake, transport, keypair slots, peer timers) take it as their first argument.
 */
import type { HandshakeGate } from "./admission.js";
import { AllowedIps } from "./allowed-ips.js";
import type { CryptoBackend } from "./crypto/types.js";
import type {
  DeliveredPacket,
  DeviceOptions,
  DeviceRejection,
  OutgoingDatagram,
  Output,
  UdpEndpoint,
} from "./device-types.js";
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

/** The one empty list every output shares until the call produces something of that kind. */
const NONE: readonly never[] = Object.freeze([]);

/** The output of one call, built here: each list is `NONE` until its first entry. */
interface Collecting {
  datagrams: readonly OutgoingDatagram[];
  packets: readonly DeliveredPacket[];
  events: readonly TraceEvent[];
  keyLog: readonly string[];
  deadline: number | undefined;
}

function emptyOutput(): Collecting {
  return { datagrams: NONE, packets: NONE, events: NONE, keyLog: NONE, deadline: undefined };
}

/** `list`, or a new array in its place when it is the shared empty one; then `item` added. */
function added<T>(list: readonly T[], item: T): readonly T[] {
  if (list === NONE) return [item];
  (list as T[]).push(item);
  return list;
}

export class Context {
  readonly peers = new Map<string, Peer>();
  readonly routes = new AllowedIps<Peer>();
  readonly indices = new IndexTable<Peer>();
  readonly rejections = new Map<DeviceRejection, number>();
  /** Peers by earliest timer. */
  readonly timers = new DeadlineHeap<Peer>();
  /**
   * Peers whose timers changed during this call (`peer.touched`), the first `#touchedCount`
   * entries; the heap learns of them at `finish`. The array keeps its size between calls (cutting
   * its length would free its storage, to be allocated again at the next packet).
   */
  readonly #touched: (Peer | undefined)[] = [];
  #touchedCount = 0;
  /** Keypair creation order: the last tiebreak of a rank. */
  sequence = 0;
  peerOrder = 0;
  now = 0;
  out: Collecting = emptyOutput();

  constructor(readonly s: Settings) {}

  begin(now: number): void {
    this.now = now;
    this.out = emptyOutput();
  }

  /** The call's output; the next call's `begin` starts a new one. */
  finish(): Output {
    const touched = this.#touched;
    for (let i = 0; i < this.#touchedCount; i++) {
      const peer = touched[i]!;
      touched[i] = undefined;
      peer.touched = false;
      this.timers.update(peer, peer.timers.earliest());
    }
    this.#touchedCount = 0;
    const out = this.out;
    out.deadline = this.timers.peek()?.deadline;
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
    this.out.events = added(this.out.events, event);
  }

  reject(peer: Peer | undefined, reason: DeviceRejection, detail: string, fields = {}): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
    this.event(peer, "rejected", "debug", { ...fields, reason: `${reason}: ${detail}` });
  }

  log(type: Parameters<typeof formatKeyLogLine>[0], key: Uint8Array): void {
    this.out.keyLog = added(this.out.keyLog, formatKeyLogLine(type, key));
  }

  /** Queues `data` for the peer's endpoint; false (and a rejection) when it has none. */
  transmit(peer: Peer, data: Uint8Array): boolean {
    const to = peer.endpoint;
    if (!to) {
      this.reject(peer, "no-endpoint", "peer has no known endpoint");
      return false;
    }
    // The endpoint is frozen (peer.ts): every datagram to it can share it.
    this.datagram(to, data);
    peer.txBytes += data.length;
    return true;
  }

  /** Queues `data` for `to`. */
  datagram(to: Readonly<UdpEndpoint>, data: Uint8Array): void {
    this.out.datagrams = added(this.out.datagrams, { to, data });
  }

  /** Hands a decrypted packet from `peer` to the caller. */
  deliver(peer: Peer, data: Uint8Array): void {
    this.out.packets = added(this.out.packets, { peer: peer.id, data });
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
    this.#touch(peer);
  }

  clearTimer(peer: Peer, timer: TimerName): void {
    peer.timers.clear(timer);
    this.#touch(peer);
  }

  #touch(peer: Peer): void {
    if (peer.touched) return;
    peer.touched = true;
    this.#touched[this.#touchedCount++] = peer;
  }

  /** Forgets a peer's timers (it was removed). */
  dropTimers(peer: Peer): void {
    peer.timers.clearAll();
    if (peer.touched) {
      peer.touched = false;
      const touched = this.#touched;
      const at = touched.indexOf(peer);
      touched.copyWithin(at, at + 1, this.#touchedCount);
      touched[--this.#touchedCount] = undefined;
    }
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
