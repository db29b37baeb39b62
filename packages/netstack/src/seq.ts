/**
 * Sequence number arithmetic modulo 2^32 (RFC 9293 §3.4): comparisons are on the signed 32-bit
 * difference, valid while the two numbers are less than 2^31 apart.
 */
export type Seq = number;

export const seqAdd = (a: Seq, n: number): Seq => (a + n) >>> 0;
/** a − b as a signed distance. */
export const seqDiff = (a: Seq, b: Seq): number => (a - b) | 0;
export const seqLt = (a: Seq, b: Seq): boolean => seqDiff(a, b) < 0;
export const seqLe = (a: Seq, b: Seq): boolean => seqDiff(a, b) <= 0;
export const seqGt = (a: Seq, b: Seq): boolean => seqDiff(a, b) > 0;
export const seqGe = (a: Seq, b: Seq): boolean => seqDiff(a, b) >= 0;
export const seqMax = (a: Seq, b: Seq): Seq => (seqGt(a, b) ? a : b);
export const seqMin = (a: Seq, b: Seq): Seq => (seqLt(a, b) ? a : b);
