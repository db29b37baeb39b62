import { malformed, type NotUdp } from "./decoded.js";

export interface ReassemblyOptions {
  /** Datagrams being rebuilt at once; the oldest is dropped beyond this (default 64). */
  maxDatagrams?: number;
  /** Capture-time seconds a datagram may take to complete (default 30, like Linux ipfrag_time). */
  timeoutSeconds?: number;
}

export interface ReassemblyStats {
  completed: number;
  /** Incomplete datagrams dropped because they timed out. */
  expired: number;
  /** Incomplete datagrams dropped because the table was full. */
  evicted: number;
  /** Datagrams dropped because their fragments contradicted each other. */
  rejected: number;
}

interface Pending {
  firstTime: number;
  parts: { offset: number; bytes: Uint8Array }[];
  received: number;
  /** Length of the whole payload, known once the last fragment (more = false) arrived. */
  total: number;
  /** Caller's value from the offset-0 fragment (IPv6: its next header). */
  tag: number;
}

/** Largest reassembled payload: IP length fields are 16-bit. */
const MAX_PAYLOAD = 65535;

/**
 * Rebuilds fragmented IP payloads. Bounded: at most `maxDatagrams` in progress, each at most
 * 64 KiB, and anything older than the timeout (by capture time) is dropped. Fragment bytes are
 * copied so pending datagrams never pin input chunks.
 */
export class FragmentReassembler {
  readonly stats: ReassemblyStats = { completed: 0, expired: 0, evicted: 0, rejected: 0 };
  private readonly pending = new Map<string, Pending>();
  private readonly maxDatagrams: number;
  private readonly timeoutSeconds: number;

  constructor(options: ReassemblyOptions = {}) {
    this.maxDatagrams = options.maxDatagrams ?? 64;
    this.timeoutSeconds = options.timeoutSeconds ?? 30;
    if (!Number.isSafeInteger(this.maxDatagrams) || this.maxDatagrams < 1) {
      throw new RangeError(`FragmentReassembler: maxDatagrams must be a positive integer`);
    }
    if (!(this.timeoutSeconds > 0)) {
      throw new RangeError(`FragmentReassembler: timeoutSeconds must be positive`);
    }
  }

  /** `tag` of the offset-0 fragment of the datagram the last `add` completed. */
  completedTag = 0;

  /** Datagrams currently incomplete. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Adds one fragment (`offset` in bytes into the payload). Returns the complete payload when
   * this fragment finished it, else why nothing is ready yet. `tag` is remembered from the
   * offset-0 fragment and reported as `completedTag`.
   */
  add(
    key: string,
    time: number,
    offset: number,
    more: boolean,
    bytes: Uint8Array,
    label: string,
    tag = 0,
  ): Uint8Array | NotUdp {
    this.expire(time);
    const end = offset + bytes.length;
    if (end > MAX_PAYLOAD) {
      return malformed(`${label}: fragment ends at byte ${end}, beyond the 65535-byte maximum`);
    }
    if (more && bytes.length % 8 !== 0) {
      return malformed(
        `${label}: non-final fragment of ${bytes.length} bytes is not a multiple of 8`,
      );
    }
    let entry = this.pending.get(key);
    if (entry === undefined) {
      if (this.pending.size >= this.maxDatagrams) {
        const oldest = this.pending.keys().next().value!;
        this.pending.delete(oldest);
        this.stats.evicted++;
      }
      entry = { firstTime: time, parts: [], received: 0, total: -1, tag: 0 };
      this.pending.set(key, entry);
    }
    for (const part of entry.parts) {
      const partEnd = part.offset + part.bytes.length;
      if (part.offset === offset && partEnd === end) {
        return { kind: "fragment", reason: `${label}: duplicate fragment at offset ${offset}` };
      }
      if (offset < partEnd && part.offset < end) {
        return this.reject(
          key,
          `${label}: fragment ${offset}–${end} overlaps ${part.offset}–${partEnd}`,
        );
      }
    }
    if (!more) {
      if (entry.total >= 0 && entry.total !== end) {
        return this.reject(
          key,
          `${label}: two final fragments (ending at ${entry.total} and ${end})`,
        );
      }
      entry.total = end;
    }
    if (entry.total >= 0 && end > entry.total) {
      return this.reject(
        key,
        `${label}: fragment ends at ${end}, after the final one (${entry.total})`,
      );
    }
    if (offset === 0) entry.tag = tag;
    entry.parts.push({ offset, bytes: bytes.slice() });
    entry.received += bytes.length;
    if (entry.total < 0 || entry.received < entry.total) {
      return {
        kind: "fragment",
        reason: `${label}: fragment at offset ${offset} held for reassembly`,
      };
    }
    // No overlaps and every byte in [0, total) received: the parts tile the payload exactly.
    if (entry.parts.some((p) => p.offset + p.bytes.length > entry.total)) {
      return this.reject(key, `${label}: fragment beyond the final one`);
    }
    this.pending.delete(key);
    const payload = new Uint8Array(entry.total);
    for (const part of entry.parts) payload.set(part.bytes, part.offset);
    this.stats.completed++;
    this.completedTag = entry.tag;
    return payload;
  }

  private reject(key: string, reason: string): NotUdp {
    this.pending.delete(key);
    this.stats.rejected++;
    return malformed(reason);
  }

  private expire(now: number): void {
    for (const [key, entry] of this.pending) {
      // Entries are in arrival order, so the first one still young ends the scan.
      if (now - entry.firstTime <= this.timeoutSeconds) break;
      this.pending.delete(key);
      this.stats.expired++;
    }
  }
}
