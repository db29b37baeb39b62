import { abytes } from "../validate.js";

const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;
/** Poly1305's tag, at the end of every ChaCha20-Poly1305 ciphertext. */
export const TAG_LENGTH = 16;

/** The argument checks of every backend's ChaCha20-Poly1305 with a raw 12-byte nonce. */
export function checkAeadArguments(key: Uint8Array, nonce: Uint8Array): void {
  abytes(key, 32, "ChaCha20-Poly1305 key");
  abytes(nonce, 12, "ChaCha20-Poly1305 nonce");
}

/**
 * An open that throws on a bad tag (noble, libsodium), as the interface's `null`; a ciphertext
 * too short to hold a tag is `null` without calling it.
 */
export function openOrNull(ciphertext: Uint8Array, open: () => Uint8Array): Uint8Array | null {
  if (ciphertext.length < TAG_LENGTH) return null;
  try {
    return open();
  } catch {
    return null;
  }
}

/**
 * Writes WireGuard's transport nonce into `nonce` (12 bytes): 4 zero bytes, then `counter` as
 * 64-bit little endian. Rejects counters outside 0..2^64-1 instead of letting them wrap.
 */
export function writeCounterNonce(counter: bigint, nonce: Uint8Array): Uint8Array {
  if (typeof counter !== "bigint" || counter < 0n || counter > MAX_COUNTER) {
    throw new RangeError(`nonce counter: expected a bigint in 0..2^64-1, got ${String(counter)}`);
  }
  const view = new DataView(nonce.buffer, nonce.byteOffset, nonce.byteLength);
  view.setUint32(0, 0, true);
  view.setBigUint64(4, counter, true);
  return nonce;
}
