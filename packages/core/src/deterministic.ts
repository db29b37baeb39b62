import { nobleCrypto } from "./crypto/noble.js";
import type { RandomSource } from "./crypto/types.js";

/**
 * A reproducible random source (BLAKE2s in counter mode over a seed) for simulations and replays,
 * where the same seed must give the same keys, indices and jitter. Never use it for real keys.
 */
export function deterministicRandom(seed: string | Uint8Array): RandomSource {
  const seedBytes = typeof seed === "string" ? new TextEncoder().encode(seed) : seed.slice();
  const counter = new Uint8Array(8);
  const view = new DataView(counter.buffer);
  let block = 0n;
  let pool: Uint8Array = new Uint8Array(0);
  let offset = 0;
  return (length: number) => {
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`random: length must be a non-negative integer, got ${length}`);
    }
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      if (offset === pool.length) {
        view.setBigUint64(0, block++, true);
        pool = nobleCrypto.hash(seedBytes, counter);
        offset = 0;
      }
      out[i] = pool[offset++]!;
    }
    return out;
  };
}
