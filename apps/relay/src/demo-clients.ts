/**
 * Who holds the demo peer's client slots and tunnel addresses. A key is given its addresses when
 * it first asks: in a relay session's hello (the client then uses what the welcome says) or with
 * its first handshake. Each address has one holder at a time: the address derived from the key
 * (what a client without the welcome computes) when it is free, else the next free one. Asking
 * again with a key that holds addresses answers the same ones and changes nothing, so claiming
 * another client's key in a hello takes nothing from it (and only the handshake proves a key).
 *
 * When the table is full a newcomer takes the slot of the idlest idle holder, never of an active
 * one: a client is idle with no handshake for `idleMs`; a key that asked but never completed a
 * handshake, once `reservationMs` passed since it asked.
 */

import { formatIp, parseIp } from "@wiregate/core";
import { demoClientAddresses } from "@wiregate/packets";

export interface DemoClientsOptions {
  maxClients: number;
  /** A client with no handshake for this long is idle (WireGuard rekeys every 2 minutes). */
  idleMs: number;
  /** How long a key that has not completed a handshake keeps its addresses against newcomers. */
  reservationMs: number;
}

interface Holder {
  v4: string;
  v6: string;
  /** When the key was first given its addresses. */
  since: number;
}

interface Granted {
  ok: true;
  v4: string;
  v6: string;
  allowedIps: string[];
  evicted?: Uint8Array;
}

export type Admission = Granted | { ok: false; reason: string };

const b64 = (key: Uint8Array) => Buffer.from(key).toString("base64");

/** Client hosts of 10.99.0.0/16: not .0.0, not the server's .0.1, not .255.255. */
const V4_FIRST = 2;
const V4_COUNT = 0xfffe - V4_FIRST;

/** The IPv4 address after `v4` among client hosts, wrapping around. */
function nextV4(v4: string): string {
  const [, , hi, lo] = v4.split(".").map(Number) as [number, number, number, number];
  const host = V4_FIRST + ((((hi << 8) | lo) - V4_FIRST + 1) % V4_COUNT);
  return `10.99.${host >> 8}.${host & 0xff}`;
}

/** The IPv6 address after `v6` in its last 16 bits, wrapping around (the rest stays the key's). */
function nextV6(v6: string): string {
  const parsed = parseIp(v6);
  if (!parsed.ok) throw new Error(`demo clients: bad IPv6 address ${v6}`);
  const bytes = parsed.address.bytes.slice();
  const low = ((bytes[14]! << 8) | bytes[15]!) + 1;
  bytes[14] = (low >> 8) & 0xff;
  bytes[15] = low & 0xff;
  return formatIp({ family: 6, bytes });
}

export class DemoClients {
  readonly #holders = new Map<string, Holder>();
  /** Address → the key holding it, both families. */
  readonly #taken = new Map<string, string>();

  constructor(readonly options: DemoClientsOptions) {
    if (options.maxClients > V4_COUNT / 2)
      throw new RangeError(`DemoClients: maxClients ${options.maxClients} exceeds ${V4_COUNT / 2}`);
  }

  get size(): number {
    return this.#holders.size;
  }

  /**
   * The key's addresses at `now`, given to it first if it holds none; `lastHandshakeAt` tells when
   * each holder last completed a handshake (undefined: never). On success the caller removes
   * `evicted` from its device.
   */
  admit(
    publicKey: Uint8Array,
    now: number,
    lastHandshakeAt: (key: Uint8Array) => number | undefined,
  ): Admission {
    const key = b64(publicKey);
    const held = this.#holders.get(key);
    if (held) return this.#granted(held);
    let evicted: Uint8Array | undefined;
    if (this.#holders.size >= this.options.maxClients) {
      evicted = this.#idlest(now, lastHandshakeAt);
      if (!evicted)
        return { ok: false, reason: `all ${this.options.maxClients} client slots are in use` };
      this.forget(evicted);
    }
    const derived = demoClientAddresses(publicKey);
    let { v4, v6 } = derived;
    while (this.#taken.has(v4)) v4 = nextV4(v4);
    while (this.#taken.has(v6)) v6 = nextV6(v6);
    const holder = { v4, v6, since: now };
    this.#holders.set(key, holder);
    this.#taken.set(v4, key);
    this.#taken.set(v6, key);
    return evicted ? { ...this.#granted(holder), evicted } : this.#granted(holder);
  }

  #granted(holder: Holder): Granted {
    const { v4, v6 } = holder;
    return { ok: true, v4, v6, allowedIps: [`${v4}/32`, `${v6}/128`] };
  }

  /** The idle holder whose last sign of life is oldest, or undefined if every holder is active. */
  #idlest(
    now: number,
    lastHandshakeAt: (key: Uint8Array) => number | undefined,
  ): Uint8Array | undefined {
    let idlest: { key: Uint8Array; at: number } | undefined;
    for (const [key, holder] of this.#holders) {
      const bytes = Buffer.from(key, "base64");
      const handshake = lastHandshakeAt(bytes);
      const idle =
        handshake === undefined
          ? now - holder.since >= this.options.reservationMs
          : now - handshake >= this.options.idleMs;
      const at = handshake ?? holder.since;
      if (idle && (!idlest || at < idlest.at)) idlest = { key: bytes, at };
    }
    return idlest?.key;
  }

  /** The client left (removed from the device): its slot and its addresses are free. */
  forget(publicKey: Uint8Array): void {
    const key = b64(publicKey);
    const holder = this.#holders.get(key);
    if (!holder) return;
    this.#holders.delete(key);
    this.#taken.delete(holder.v4);
    this.#taken.delete(holder.v6);
  }
}
