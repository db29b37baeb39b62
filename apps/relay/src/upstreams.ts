/**
 * The allow-list of upstreams. Clients name an upstream, never an address. An embedded upstream
 * (an in-process UDP endpoint such as the demo peer) registers its loopback address the same way.
 */

import type { UpstreamEntry } from "./config.js";

export class UpstreamRegistry {
  readonly #byName = new Map<string, UpstreamEntry>();

  constructor(entries: UpstreamEntry[] = []) {
    for (const entry of entries) this.register(entry);
  }

  /** Adds or replaces an upstream. Throws for a caller's malformed entry. */
  register(entry: UpstreamEntry): void {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(entry.name)) {
      throw new TypeError(`UpstreamRegistry.register: bad name ${JSON.stringify(entry.name)}`);
    }
    if (!Number.isInteger(entry.port) || entry.port < 1 || entry.port > 65535) {
      throw new RangeError(`UpstreamRegistry.register: bad port ${entry.port} for ${entry.name}`);
    }
    this.#byName.set(entry.name, { ...entry });
  }

  unregister(name: string): boolean {
    return this.#byName.delete(name);
  }

  get(name: string): UpstreamEntry | undefined {
    return this.#byName.get(name);
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }
}
