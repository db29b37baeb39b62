/**
 * Secure random bytes handed out from a pool refilled in one call. The device asks for two bytes
 * of timer jitter for nearly every packet it sends after receiving one; a `randomBytes` call per
 * request (a Buffer and an OpenSSL call each) took a tenth of the CPU of a busy tunnel.
 */
import { randomFillSync } from "node:crypto";
import type { RandomSource } from "../crypto/types.js";

const POOL_SIZE = 4096;

/** A `RandomSource` over a refilled pool; every answer is a fresh copy the caller may keep. */
export function pooledRandom(): RandomSource {
  const pool = new Uint8Array(POOL_SIZE);
  let used = POOL_SIZE;
  return (length) => {
    if (length > POOL_SIZE) return randomFillSync(new Uint8Array(length));
    if (used + length > POOL_SIZE) {
      randomFillSync(pool);
      used = 0;
    }
    const out = pool.slice(used, used + length);
    pool.fill(0, used, used + length); // handed-out bytes do not stay behind in the pool
    used += length;
    return out;
  };
}
