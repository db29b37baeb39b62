/**
 * Secure random bytes handed out from a pool refilled in one call. The device asks for two bytes
 * of timer jitter for nearly every packet it sends after receiving one; a system call per request
 * (in Node a Buffer and an OpenSSL call, in a browser `crypto.getRandomValues`) took a noticeable
 * share of the CPU of a busy tunnel. Portable: the caller hands in the platform's fill, so this
 * module touches no randomness itself. Seeded sources are never pooled (their bytes stay exact).
 */
import type { RandomSource } from "./crypto/types.js";

/** Fills `bytes` with secure random bytes (`crypto.getRandomValues`, node's `randomFillSync`). */
export type RandomFill = (bytes: Uint8Array) => unknown;

/** Bytes per refill; below the 65,536 that `crypto.getRandomValues` accepts in one call. */
const POOL_SIZE = 4096;

/** A `RandomSource` over a pool that `fill` refills; every answer is a fresh copy the caller may keep. */
export function pooledRandom(fill: RandomFill): RandomSource {
  const pool = new Uint8Array(POOL_SIZE);
  let used = POOL_SIZE;
  return (length) => {
    if (length > POOL_SIZE) {
      const out = new Uint8Array(length);
      for (let at = 0; at < length; at += POOL_SIZE) fill(out.subarray(at, at + POOL_SIZE));
      return out;
    }
    if (used + length > POOL_SIZE) {
      fill(pool);
      used = 0;
    }
    const out = pool.slice(used, used + length);
    pool.fill(0, used, used + length); // handed-out bytes do not stay behind in the pool
    used += length;
    return out;
  };
}
