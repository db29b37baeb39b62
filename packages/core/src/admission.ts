/**
 * The gate every handshake message passes before any expensive work: mac1, then, while the device
 * is under load, mac2 (a cookie bound to the source address) and a per-source token bucket.
 */
import { HANDSHAKE_RATE_BURST, HANDSHAKE_RATE_PER_SECOND, UNDER_LOAD_STICKY } from "./constants.js";
import { type CookieChecker, endpointBytes } from "./cookie.js";
import type { UdpEndpoint } from "./device-types.js";
import type { Entropy } from "./entropy.js";

/** Sources tracked at once; beyond this, buckets idle for a second are dropped, else refused. */
const MAX_BUCKETS = 4096;

export type Admission =
  | { ok: true }
  | { ok: false; reason: "mac1" | "rate-limited"; detail: string }
  /** Under load without a valid mac2: answer `from` with this cookie reply. */
  | { ok: false; reason: "cookie-required"; detail: string; cookieReply: Uint8Array };

export class HandshakeGate {
  #windowStart = Number.NEGATIVE_INFINITY;
  #count = 0;
  #underLoadUntil = Number.NEGATIVE_INFINITY;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly checker: CookieChecker,
    /** Handshake messages per second from which cookies are required (0: always). */
    readonly underLoadThreshold: number,
    /** What one token bucket covers: a source address (as wireguard-go), or address and port. */
    readonly rateLimitBy: "address" | "endpoint" = "address",
  ) {}

  /** Per-source token buckets in use. */
  get buckets(): number {
    return this.#buckets.size;
  }

  admit(
    now: number,
    entropy: Entropy,
    bytes: Uint8Array,
    sender: number,
    from: UdpEndpoint,
  ): Admission {
    if (!this.checker.checkMac1(bytes)) {
      return { ok: false, reason: "mac1", detail: "handshake message without a valid mac1" };
    }
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#count = 0;
    }
    this.#count++;
    if (this.#count >= this.underLoadThreshold) this.#underLoadUntil = now + UNDER_LOAD_STICKY;
    if (now >= this.#underLoadUntil) return { ok: true };
    const source = endpointBytes(from.address, from.port);
    if (!this.checker.checkMac2(now, bytes, source)) {
      return {
        ok: false,
        reason: "cookie-required",
        detail: "under load: answered with a cookie reply",
        cookieReply: this.checker.createReply(now, entropy, bytes, sender, source),
      };
    }
    const bucket =
      this.rateLimitBy === "address" ? from.address : `${from.address} port ${from.port}`;
    if (!this.#takeToken(now, bucket)) {
      return {
        ok: false,
        reason: "rate-limited",
        detail: `under load: more than ${HANDSHAKE_RATE_PER_SECOND}/s from ${bucket}`,
      };
    }
    return { ok: true };
  }

  #takeToken(now: number, source: string): boolean {
    let bucket = this.#buckets.get(source);
    if (!bucket) {
      if (this.#buckets.size >= MAX_BUCKETS) {
        for (const [key, b] of this.#buckets) if (now - b.at > 1000) this.#buckets.delete(key);
        if (this.#buckets.size >= MAX_BUCKETS) return false;
      }
      bucket = { tokens: HANDSHAKE_RATE_BURST, at: now };
      this.#buckets.set(source, bucket);
    }
    const refill = ((now - bucket.at) / 1000) * HANDSHAKE_RATE_PER_SECOND;
    bucket.tokens = Math.min(HANDSHAKE_RATE_BURST, bucket.tokens + refill);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
