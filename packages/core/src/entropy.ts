import { REKEY_TIMEOUT_JITTER_MAX } from "./constants.js";
import type { RandomSource } from "./crypto/types.js";

/**
 * Every random value the engine uses, asked for by what it is for. A simulation or a replay can
 * answer each request differently (a captured ephemeral key, a captured index) without guessing
 * the purpose from the number of bytes asked for.
 */
export interface Entropy {
  /** 32 bytes: the private key of a fresh handshake ephemeral. */
  ephemeral(): Uint8Array;
  /** A local index (names a handshake or keypair) (0..2^32-1); asked again while it collides with one in use. */
  index(): number;
  /** Retransmit jitter in ms, 0..REKEY_TIMEOUT_JITTER_MAX. */
  jitter(): number;
  /** 32 bytes: a new secret for the cookies this device hands out under load. */
  cookieSecret(): Uint8Array;
  /** 24 bytes: the nonce of one cookie reply. */
  cookieNonce(): Uint8Array;
}

/**
 * Entropy drawn from a byte source, consuming it exactly as the engine always has (32 bytes per
 * key, 4 little-endian bytes per index, 2 per jitter), so seeded runs keep their bytes.
 */
export function entropyFrom(random: RandomSource): Entropy {
  return {
    ephemeral: () => random(32).slice(),
    index() {
      const b = random(4);
      return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    },
    jitter() {
      const b = random(2);
      return (b[0]! | (b[1]! << 8)) % (REKEY_TIMEOUT_JITTER_MAX + 1);
    },
    cookieSecret: () => random(32),
    cookieNonce: () => random(24),
  };
}
