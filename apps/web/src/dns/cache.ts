/**
 * The resolver's cache: answers for (name, type) kept for their TTL, capped, with at most
 * `maxEntries` entries (the least recently used goes first). Negative answers (NXDOMAIN, NODATA)
 * are cached as RFC 2308 asks: for the SOA's TTL or MINIMUM, whichever is less, capped lower than
 * positive ones; a negative answer without an SOA is not cached (RFC 2308 §5). Times in ms on the
 * caller's clock; no clock of its own.
 */
import type { RecordType } from "./message.js";

export interface CacheLimits {
  maxEntries: number;
  /** Positive answers live at most this long, whatever their TTL says (seconds). */
  maxTtl: number;
  /** Negative answers: at most this long (seconds); RFC 2308 suggests 1–3 hours, a page needs less. */
  maxNegativeTtl: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = {
  maxEntries: 512,
  maxTtl: 3600,
  maxNegativeTtl: 300,
};

export type CachedAnswer =
  | { kind: "addresses"; addresses: string[] }
  | { kind: "nxdomain" }
  | { kind: "nodata" };

interface Entry {
  answer: CachedAnswer;
  /** When it expires (ms). */
  expires: number;
}

export class DnsCache {
  readonly limits: CacheLimits;
  readonly #entries = new Map<string, Entry>();

  constructor(limits: Partial<CacheLimits> = {}) {
    this.limits = { ...DEFAULT_CACHE_LIMITS, ...limits };
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The live answer for (name, type) and its TTL left (seconds), or undefined. */
  get(
    name: string,
    type: RecordType,
    now: number,
  ): { answer: CachedAnswer; ttl: number } | undefined {
    const key = keyOf(name, type);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (now >= entry.expires) {
      this.#entries.delete(key);
      return undefined;
    }
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return { answer: entry.answer, ttl: Math.ceil((entry.expires - now) / 1000) };
  }

  /**
   * Stores an answer for `ttl` seconds (capped); a negative one without a TTL, or any with a TTL
   * of 0, is not stored. Returns the TTL it was stored for (seconds), 0 when not stored.
   */
  set(name: string, type: RecordType, answer: CachedAnswer, ttl: number | undefined, now: number) {
    const cap = answer.kind === "addresses" ? this.limits.maxTtl : this.limits.maxNegativeTtl;
    const seconds = Math.min(ttl ?? 0, cap);
    const key = keyOf(name, type);
    this.#entries.delete(key);
    if (!(seconds > 0)) return 0;
    this.#entries.set(key, { answer, expires: now + seconds * 1000 });
    while (this.#entries.size > this.limits.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return seconds;
  }

  clear(): void {
    this.#entries.clear();
  }
}

function keyOf(name: string, type: RecordType): string {
  return `${type} ${name.replace(/\.$/, "").toLowerCase()}`;
}
