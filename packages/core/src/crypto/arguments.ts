const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;

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
