/**
 * Who may hold the demo peer's client slots and tunnel addresses. Addresses come from the client's
 * key (the client computes its own; there is no channel to hand one out), and the IPv4 space has
 * only 16 bits: two keys may map to the same IPv4 address. The first holder keeps it; a later key
 * with the same IPv4 gets its IPv6 address only. When the table is full, a newcomer takes the slot
 * of the client idle the longest, and only if that one is idle: an active client is never evicted.
 */

import { demoClientAddresses } from "@wiregate/packets";

export interface DemoClientsOptions {
  maxClients: number;
  /** A client with no handshake for this long is idle (WireGuard rekeys every 2 minutes). */
  idleMs: number;
}

interface Holder {
  key: string;
  v4: string;
  ownsV4: boolean;
}

export type Admission =
  | { ok: true; allowedIps: string[]; evicted?: Uint8Array }
  | { ok: false; reason: string };

const b64 = (key: Uint8Array) => Buffer.from(key).toString("base64");

export class DemoClients {
  readonly #holders = new Map<string, Holder>();
  readonly #v4Owner = new Map<string, string>();

  constructor(readonly options: DemoClientsOptions) {}

  get size(): number {
    return this.#holders.size;
  }

  /**
   * A new key asks to be admitted at `now`; `lastHandshakeAt` tells when each present client last
   * completed a handshake (undefined: never). On success the caller removes `evicted` from its device.
   */
  admit(
    publicKey: Uint8Array,
    now: number,
    lastHandshakeAt: (key: Uint8Array) => number | undefined,
  ): Admission {
    const key = b64(publicKey);
    let evicted: Uint8Array | undefined;
    if (!this.#holders.has(key) && this.#holders.size >= this.options.maxClients) {
      let idlest: { key: string; at: number } | undefined;
      for (const holder of this.#holders.keys()) {
        const at = lastHandshakeAt(Buffer.from(holder, "base64")) ?? Number.NEGATIVE_INFINITY;
        if (!idlest || at < idlest.at) idlest = { key: holder, at };
      }
      if (!idlest || now - idlest.at < this.options.idleMs)
        return { ok: false, reason: `all ${this.options.maxClients} client slots are in use` };
      this.forget(Buffer.from(idlest.key, "base64"));
      evicted = Buffer.from(idlest.key, "base64");
    }
    const { v4, v6 } = demoClientAddresses(publicKey);
    const owner = this.#v4Owner.get(v4);
    const ownsV4 = owner === undefined || owner === key;
    if (ownsV4) this.#v4Owner.set(v4, key);
    this.#holders.set(key, { key, v4, ownsV4 });
    const allowedIps = ownsV4 ? [`${v4}/32`, `${v6}/128`] : [`${v6}/128`];
    return evicted ? { ok: true, allowedIps, evicted } : { ok: true, allowedIps };
  }

  /** The client left (removed from the device): its slot and, if it held it, its IPv4 are free. */
  forget(publicKey: Uint8Array): void {
    const key = b64(publicKey);
    const holder = this.#holders.get(key);
    if (!holder) return;
    this.#holders.delete(key);
    if (holder.ownsV4) this.#v4Owner.delete(holder.v4);
  }
}
