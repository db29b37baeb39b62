/**
 * Two devices on a virtual network, for deterministic tests: explicit time, seeded randomness,
 * and every datagram in flight visible, so tests decide what is delivered, when and in what order.
 */
import { nodeCrypto } from "../src/crypto/node.js";
import type { CryptoBackend } from "../src/crypto/types.js";
import { deterministicRandom } from "../src/deterministic.js";
import { Device, type Output, type UdpEndpoint } from "../src/device.js";
import { generatePrivateKey } from "../src/keys.js";
import type { TraceEvent } from "../src/trace.js";

export type Side = "a" | "b";
export const other = (side: Side): Side => (side === "a" ? "b" : "a");

export interface InFlight {
  from: Side;
  to: Side;
  data: Uint8Array;
  /** Causal depth: 1 for a message sent spontaneously, +1 for each message it caused. */
  depth: number;
  /** Order of sending, unique within a pair. */
  id: number;
}

export interface PairOptions {
  seed: string;
  /** A preshared key on both sides, or a different one on each ("mismatched"). */
  psk?: boolean | "mismatched";
  /** Which side gets the greater static key (the collision winner). */
  winner?: Side;
  collisionPolicy?: "keep-both" | "latest-wins";
  persistentKeepaliveSeconds?: number;
  underLoadThreshold?: number;
  crypto?: CryptoBackend;
}

export const ENDPOINT: Record<Side, UdpEndpoint> = {
  a: { address: "192.0.2.1", port: 51820 },
  b: { address: "192.0.2.2", port: 51821 },
};
export const TUNNEL: Record<Side, string> = { a: "10.9.0.1", b: "10.9.0.2" };

function compare(x: Uint8Array, y: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

/** A minimal IPv4/UDP packet from one tunnel address to the other (checksums left zero). */
export function udpPacket(from: Side, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const p = new Uint8Array(28 + body.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(TUNNEL[from].split(".").map(Number), 12);
  p.set(TUNNEL[other(from)].split(".").map(Number), 16);
  p[20] = 0x30;
  p[21] = 0x39;
  p[22] = 0x30;
  p[23] = 0x39;
  p[24] = (8 + body.length) >> 8;
  p[25] = (8 + body.length) & 0xff;
  p.set(body, 28);
  return p;
}

export class Pair {
  readonly devices: Record<Side, Device>;
  readonly keys: Record<Side, Uint8Array>;
  inFlight: InFlight[] = [];
  events: (TraceEvent & { side: Side })[] = [];
  delivered: Record<Side, { data: Uint8Array; depth: number; time: number }[]> = { a: [], b: [] };
  /** Every transport (receiver index, counter) each side has sent, to catch nonce reuse. */
  readonly nonces: Record<Side, Set<string>> = { a: new Set(), b: new Set() };
  nonceReuse = 0;
  /** Whether some message overtook an earlier one on the same link (not FIFO). */
  overtaken = false;
  now = 0;
  #nextId = 0;

  /** Id the next message sent will get (messages with smaller ids were sent before). */
  get nextId(): number {
    return this.#nextId;
  }

  constructor(readonly options: PairOptions) {
    const random = deterministicRandom(options.seed);
    let privA = generatePrivateKey(random);
    let privB = generatePrivateKey(random);
    const pubA = nodeCrypto.x25519Public(privA);
    const pubB = nodeCrypto.x25519Public(privB);
    const aGreater = compare(pubA, pubB) > 0;
    if ((options.winner ?? "a") === "a" ? !aGreater : aGreater) [privA, privB] = [privB, privA];
    const psk = options.psk ? random(32) : undefined;
    const otherPsk = options.psk === "mismatched" ? random(32) : psk;
    const make = (side: Side, priv: Uint8Array) =>
      new Device({
        privateKey: priv,
        crypto: options.crypto ?? nodeCrypto,
        random: deterministicRandom(`${options.seed}/${side}`),
        // Both clocks start together at an arbitrary wall time and follow `now`.
        wallClock: () => 1_700_000_000_000_000_000n + BigInt(Math.round(this.now * 1e6)),
        collisionPolicy: options.collisionPolicy,
        underLoadThreshold: options.underLoadThreshold,
      });
    this.devices = { a: make("a", privA), b: make("b", privB) };
    this.keys = { a: this.devices.a.publicKey, b: this.devices.b.publicKey };
    for (const side of ["a", "b"] as const) {
      const peer = other(side);
      this.absorb(
        side,
        this.devices[side].addPeer(0, {
          publicKey: this.keys[peer],
          presharedKey: side === "a" ? psk : otherPsk,
          allowedIps: [`${TUNNEL[peer]}/32`],
          endpoint: ENDPOINT[peer],
          persistentKeepaliveSeconds: options.persistentKeepaliveSeconds,
        }),
        0,
      );
    }
  }

  absorb(side: Side, out: Output, depth: number): Output {
    for (const e of out.events) this.events.push({ ...e, side });
    for (const d of out.datagrams) {
      const to: Side = d.to.address === ENDPOINT.a.address ? "a" : "b";
      if (d.data[0] === 4) {
        const key = `${new DataView(d.data.buffer, d.data.byteOffset).getUint32(4, true)}/${new DataView(d.data.buffer, d.data.byteOffset).getBigUint64(8, true)}`;
        if (this.nonces[side].has(key)) this.nonceReuse++;
        this.nonces[side].add(key);
      }
      this.inFlight.push({ from: side, to, data: d.data, depth: depth + 1, id: this.#nextId++ });
    }
    for (const p of out.packets) this.delivered[side].push({ data: p.data, depth, time: this.now });
    return out;
  }

  send(side: Side, payload: string): Output {
    return this.absorb(side, this.devices[side].send(this.now, udpPacket(side, payload)), 0);
  }

  /** Delivers the in-flight message at `index` (removing it). */
  deliver(index: number): Output {
    const m = this.inFlight[index];
    if (!m) throw new RangeError(`no message in flight at ${index}`);
    if (this.inFlight.slice(0, index).some((o) => o.from === m.from && o.to === m.to)) {
      this.overtaken = true;
    }
    this.inFlight.splice(index, 1);
    return this.absorb(
      m.to,
      this.devices[m.to].receive(this.now, m.data, ENDPOINT[m.from]),
      m.depth,
    );
  }

  tick(side: Side): Output {
    return this.absorb(side, this.devices[side].tick(this.now), 0);
  }

  /** Both sides send on the same handshake's keys. */
  converged(): boolean {
    const a = this.devices.a.currentKeypair(this.keys.b);
    const b = this.devices.b.currentKeypair(this.keys.a);
    return !!a && !!b && a.localIndex === b.remoteIndex && a.remoteIndex === b.localIndex;
  }

  errors(): (TraceEvent & { side: Side })[] {
    return this.events.filter((e) => e.level === "error" || e.level === "warn");
  }
}
