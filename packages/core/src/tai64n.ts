// TAI64N timestamps carried in handshake initiations: a responder rejects an initiation whose stamp
// is not greater than the last one it accepted from that peer, so replayed initiations fail.

import { abytes } from "./validate.js";

export const TAI64N_LENGTH = 12;
/** TAI64 label of the Unix epoch, as WireGuard uses it (2^62 + 10). */
export const TAI64_LABEL_BASE = 0x400000000000000an;
/**
 * Nanoseconds are rounded down to a multiple of 2^24 ns (~16.8 ms), like wireguard-go, so the stamp
 * does not leak a fine-grained clock. Two initiations within one bucket carry equal stamps.
 */
export const TAI64N_WHITENING_NS = 1 << 24;

const NS_PER_SECOND = 1_000_000_000n;
// TAI64 reserves labels ≥ 2^63 for future extensions.
const MAX_LABEL = 2n ** 63n - 1n;

/** The whitened TAI64N stamp of a wall-clock time given in nanoseconds since the Unix epoch. */
export function tai64n(wallClockNs: bigint): Uint8Array {
  if (typeof wallClockNs !== "bigint") throw new TypeError("tai64n: wallClockNs must be a bigint");
  // Floor division, so times before 1970 still get nanoseconds in [0, 1e9).
  let seconds = wallClockNs / NS_PER_SECOND;
  let nanoseconds = wallClockNs % NS_PER_SECOND;
  if (nanoseconds < 0n) {
    seconds -= 1n;
    nanoseconds += NS_PER_SECOND;
  }
  const label = TAI64_LABEL_BASE + seconds;
  if (label < 0n || label > MAX_LABEL) throw new RangeError("tai64n: time outside the TAI64 range");
  const whitened = Number(nanoseconds) - (Number(nanoseconds) % TAI64N_WHITENING_NS);
  const stamp = new Uint8Array(TAI64N_LENGTH);
  const view = new DataView(stamp.buffer);
  view.setBigUint64(0, label, false);
  view.setUint32(8, whitened, false);
  return stamp;
}

/** Orders two stamps as WireGuard does: big-endian byte comparison. */
export function compareTai64n(a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  abytes(a, TAI64N_LENGTH, "compareTai64n");
  abytes(b, TAI64N_LENGTH, "compareTai64n");
  for (let i = 0; i < TAI64N_LENGTH; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Seconds since the Unix epoch (label − 2^62 − 10) and the nanosecond field. A peer's stamp is not
 * validated: nanoseconds ≥ 10^9 are returned as they are (WireGuard only compares bytes).
 */
export function decodeTai64n(bytes: Uint8Array): { seconds: bigint; nanoseconds: number } {
  abytes(bytes, TAI64N_LENGTH, "decodeTai64n");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    seconds: view.getBigUint64(0, false) - TAI64_LABEL_BASE,
    nanoseconds: view.getUint32(8, false),
  };
}
