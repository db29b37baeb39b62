/**
 * The allow-list of upstreams. Clients name an upstream, never an address. An embedded upstream
 * (an in-process UDP endpoint such as the demo peer) registers its loopback address the same way.
 */

import type { UpstreamEntry } from "./config.js";

/** An upstream that hands out tunnel addresses by client key (the demo peer). */
export interface AddressAssigner {
  /**
   * The key's addresses (CIDR), or undefined when the upstream has none to give. An assigner on
   * another thread (`DemoPeerThread`) answers with a promise, which rejects when it is gone.
   */
  addressesFor(publicKey: Uint8Array): string[] | undefined | Promise<string[] | undefined>;
}

export class UpstreamRegistry {
  readonly #byName = new Map<string, UpstreamEntry>();
  readonly #assigners = new Map<string, AddressAssigner>();

  constructor(entries: UpstreamEntry[] = []) {
    for (const entry of entries) this.register(entry);
  }

  /** Adds or replaces an upstream. Throws for a caller's malformed entry. */
  register(entry: UpstreamEntry, assigner?: AddressAssigner): void {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(entry.name)) {
      throw new TypeError(`UpstreamRegistry.register: bad name ${JSON.stringify(entry.name)}`);
    }
    if (!Number.isInteger(entry.port) || entry.port < 1 || entry.port > 65535) {
      throw new RangeError(`UpstreamRegistry.register: bad port ${entry.port} for ${entry.name}`);
    }
    this.#byName.set(entry.name, { ...entry });
    if (assigner) this.#assigners.set(entry.name, assigner);
    else this.#assigners.delete(entry.name);
  }

  unregister(name: string): boolean {
    this.#assigners.delete(name);
    return this.#byName.delete(name);
  }

  /** The upstream's address assigner, when it hands out addresses. */
  assigner(name: string): AddressAssigner | undefined {
    return this.#assigners.get(name);
  }

  get(name: string): UpstreamEntry | undefined {
    return this.#byName.get(name);
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }
}
