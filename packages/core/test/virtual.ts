/**
 * Helpers for virtual-time tests on top of `Pair`: each side's latest deadline, a driver (core's
 * `DeviceRunner` on a `VirtualScheduler`) that ticks at the deadlines (or polls every few ms, to
 * cross-check them), a backend that remembers private keys and transport keys, and device
 * restarts with the same static key.
 */
import { expect } from "vitest";
import { nodeCrypto } from "../src/crypto/node.js";
import type { CryptoBackend } from "../src/crypto/types.js";
import { deterministicRandom } from "../src/deterministic.js";
import { Device, type DeviceOptions, type Output } from "../src/device.js";
import { DeviceRunner, type Scheduler } from "../src/runner.js";
import { VirtualScheduler } from "../src/schedulers.js";
import { ENDPOINT, other, Pair, type PairOptions, type Side, TUNNEL } from "./sim.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * A backend that records what it saw: the private key behind each public key it derived (so a
 * test can restart a device with the same identity) and every transport key passed to seal/open
 * (transport AEAD is the only use with an empty AAD; the handshake binds the 32-byte hash).
 */
export interface RecordingCrypto extends CryptoBackend {
  privateOf(publicKey: Uint8Array): Uint8Array;
  readonly transportKeys: Set<Uint8Array>;
}

export function recordingCrypto(base: CryptoBackend = nodeCrypto): RecordingCrypto {
  const privates = new Map<string, Uint8Array>();
  const transportKeys = new Set<Uint8Array>();
  return {
    ...base,
    name: `${base.name} (recording)`,
    transportKeys,
    privateOf(publicKey) {
      const key = privates.get(hex(publicKey));
      if (!key) throw new Error("recordingCrypto: unknown public key");
      return key.slice();
    },
    x25519Public(privateKey) {
      const publicKey = base.x25519Public(privateKey);
      privates.set(hex(publicKey), privateKey.slice());
      return publicKey;
    },
    seal(key, counter, plaintext, aad) {
      if (aad.length === 0) transportKeys.add(key);
      return base.seal(key, counter, plaintext, aad);
    },
    ...(base.sealInto
      ? {
          sealInto(key, counter, plaintext, aad, out, offset) {
            if (aad.length === 0) transportKeys.add(key);
            base.sealInto!(key, counter, plaintext, aad, out, offset);
          },
        }
      : {}),
    open(key, counter, ciphertext, aad) {
      if (aad.length === 0) transportKeys.add(key);
      return base.open(key, counter, ciphertext, aad);
    },
  };
}

export interface LoggedDatagram {
  time: number;
  from: Side;
  type: number;
  length: number;
}

/** A Pair that remembers each side's latest deadline and logs every datagram sent. */
export class Clocked extends Pair {
  declare deadlines: Record<Side, number | undefined>;
  declare log: LoggedDatagram[];

  constructor(options: PairOptions) {
    super(options);
    this.deadlines ??= { a: undefined, b: undefined };
    this.log ??= [];
  }

  override absorb(side: Side, out: Output, depth: number): Output {
    this.deadlines ??= { a: undefined, b: undefined };
    this.log ??= [];
    this.deadlines[side] = out.deadline;
    for (const d of out.datagrams) {
      this.log.push({ time: this.now, from: side, type: d.data[0]!, length: d.data.length });
    }
    return super.absorb(side, out, depth);
  }

  /** Ticks `side` and checks that the deadline it returns is not in the past. */
  tickChecked(side: Side): Output {
    const out = this.tick(side);
    // A plain check: this runs on every poll step, where expect() would dominate the run time.
    if (out.deadline !== undefined && !(out.deadline > this.now)) {
      expect.fail(`deadline ${out.deadline} is not after the tick at ${this.now}`);
    }
    return out;
  }

  /**
   * Replaces `side`'s device by a fresh one with the same static key (a restart: all session
   * state lost), configured like Pair configures it, plus `extra` options.
   */
  restart(side: Side, extra: Partial<DeviceOptions> = {}, crypto?: RecordingCrypto): Output {
    const backend = crypto ?? (this.options.crypto as RecordingCrypto | undefined);
    if (!backend?.privateOf) throw new Error("restart needs a Pair built with recordingCrypto()");
    const device = new Device({
      privateKey: backend.privateOf(this.keys[side]),
      crypto: backend,
      random: deterministicRandom(`${this.options.seed}/${side}/restart/${this.now}`),
      wallClock: () => 1_700_000_000_000_000_000n + BigInt(Math.round(this.now * 1e6)),
      ...extra,
    });
    this.devices[side] = device;
    const peer = other(side);
    return this.absorb(
      side,
      device.addPeer(this.now, {
        publicKey: this.keys[peer],
        allowedIps: [`${TUNNEL[peer]}/32`],
        endpoint: ENDPOINT[peer],
        persistentKeepaliveSeconds: this.options.persistentKeepaliveSeconds,
      }),
      0,
    );
  }
}

export interface DriveOptions {
  /** Run until this time (inclusive for timers due then). */
  until: number;
  /** Data to send: at `at`, from `side`. */
  sends?: { at: number; side: Side; text: string }[];
  /** Whether to drop a datagram instead of delivering it (decided once per datagram). */
  drop?: (m: { from: Side; data: Uint8Array; id: number }) => boolean;
  /** Poll every `poll` ms instead of ticking at the deadlines (to cross-check the deadlines). */
  poll?: number;
}

/**
 * Drives a pair in virtual time with one `DeviceRunner` per side on a `VirtualScheduler`:
 * datagrams are delivered at once (unless dropped), sends happen at their times, and each side
 * is ticked by its runner at its deadline (or, with `poll`, every `poll` ms and never by deadline).
 */
export function drive(pair: Clocked, { until, sends = [], drop, poll }: DriveOptions): void {
  const scheduler = new VirtualScheduler(pair.now);
  // Polling: the runners' own timers never fire; a poll loop ticks instead.
  const timers: Scheduler =
    poll === undefined ? scheduler : { now: () => scheduler.now(), at: () => () => {} };
  const at = (call: () => Output) => (now: number) => {
    pair.now = now;
    return call();
  };
  let flushing = false;
  const flush = () => {
    if (flushing) return; // the loop below picks up what a nested delivery sent
    flushing = true;
    for (let guard = 0; pair.inFlight.length > 0; guard++) {
      if (guard > 10_000) throw new Error("drive: the network does not quiesce");
      const m = pair.inFlight[0]!;
      if (drop?.(m)) pair.inFlight.shift();
      else runners[m.to].run(at(() => pair.deliver(0)));
    }
    flushing = false;
  };
  const runner = (side: Side) =>
    new DeviceRunner<Output>({
      scheduler: timers,
      tick: at(() => pair.tickChecked(side)),
      output: flush,
    });
  const runners: Record<Side, DeviceRunner<Output>> = { a: runner("a"), b: runner("b") };
  for (const s of sends) {
    scheduler.at(s.at, () => runners[s.side].run(at(() => pair.send(s.side, s.text))));
  }
  flush();
  // Arm each runner with its side's pending deadline (a tick before a deadline does nothing).
  for (const side of ["a", "b"] as const) {
    if (poll !== undefined || pair.deadlines[side] !== undefined) {
      runners[side].run(at(() => pair.tickChecked(side)));
    }
  }
  if (poll !== undefined) {
    const step = () => {
      for (const side of ["a", "b"] as const) runners[side].run(at(() => pair.tickChecked(side)));
      scheduler.at(scheduler.now() + poll, step);
    };
    scheduler.at(pair.now + poll, step);
  }
  scheduler.advanceTo(until);
  pair.now = Math.max(pair.now, until);
}

/** Datagrams `side` sent, optionally only of one message type. */
export function sent(pair: Clocked, side: Side, type?: number): LoggedDatagram[] {
  return pair.log.filter((d) => d.from === side && (type === undefined || d.type === type));
}
