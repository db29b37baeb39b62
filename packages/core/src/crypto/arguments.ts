import { abytes } from "../validate.js";

const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;
/** Poly1305's tag, at the end of every ChaCha20-Poly1305 ciphertext. */
export const TAG_LENGTH = 16;

/** The argument checks of every backend's ChaCha20-Poly1305 with a raw 12-byte nonce. */
export function checkAeadArguments(key: Uint8Array, nonce: Uint8Array): void {
  abytes(key, 32, "ChaCha20-Poly1305 key");
  abytes(nonce, 12, "ChaCha20-Poly1305 nonce");
}

/** `sealInto`'s room check: `length` bytes of ciphertext and the tag at `offset` of `out`. */
export function checkSealInto(length: number, out: Uint8Array, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length + TAG_LENGTH > out.length) {
    throw new RangeError(
      `sealInto: ${length + TAG_LENGTH} bytes do not fit at ${offset} in ${out.length}`,
    );
  }
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
 * One 12-byte transport nonce rewritten for each counter (a backend's own, reused packet after
 * packet: every backend copies the nonce before it returns).
 */
export function counterNonces(): (counter: bigint) => Uint8Array {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  return (counter) => writeCounter(view, counter, nonce);
}

function writeCounter(view: DataView, counter: bigint, nonce: Uint8Array): Uint8Array {
  if (typeof counter !== "bigint" || counter < 0n || counter > MAX_COUNTER) {
    throw new RangeError(`nonce counter: expected a bigint in 0..2^64-1, got ${String(counter)}`);
  }
  view.setBigUint64(4, counter, true);
  return nonce;
}
