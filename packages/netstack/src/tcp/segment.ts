/** TCP segments on the wire (RFC 9293 §3.1) and the options we speak (RFC 9293, 7323, 2018). */
import type { IpFamily } from "@wiregate/core";
import { buildIpPacket, PROTO_TCP } from "../ip.js";

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export interface SackBlock {
  left: number;
  right: number;
}

export interface TcpOptions {
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  sack?: SackBlock[];
  timestamp?: { value: number; echo: number };
}

export interface Segment {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  flags: number;
  /** The raw 16-bit window field (not yet scaled). */
  window: number;
  options: TcpOptions;
  data: Uint8Array;
}

export type SegmentParse = { ok: true; segment: Segment } | { ok: false; reason: string };

/** Reads the TCP header at `offset`; never throws. Malformed options make the segment invalid. */
export function parseSegment(packet: Uint8Array, offset: number): SegmentParse {
  const length = packet.length - offset;
  if (length < 20) return { ok: false, reason: "TCP header truncated" };
  const p = packet;
  const o = offset;
  const dataOffset = (p[o + 12]! >> 4) * 4;
  if (dataOffset < 20 || dataOffset > length) return { ok: false, reason: "TCP data offset" };
  const options: TcpOptions = {};
  let i = o + 20;
  const end = o + dataOffset;
  while (i < end) {
    const kind = p[i]!;
    if (kind === 0) break; // End of Option List
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return { ok: false, reason: "TCP option truncated" };
    const size = p[i + 1]!;
    if (size < 2 || i + size > end) return { ok: false, reason: "TCP option length" };
    if (kind === 2 && size === 4) options.mss = (p[i + 2]! << 8) | p[i + 3]!;
    else if (kind === 3 && size === 3) options.windowScale = p[i + 2]!;
    else if (kind === 4 && size === 2) options.sackPermitted = true;
    else if (kind === 5 && (size - 2) % 8 === 0) {
      options.sack = [];
      for (let b = i + 2; b < i + size; b += 8) {
        options.sack.push({ left: u32(p, b), right: u32(p, b + 4) });
      }
    } else if (kind === 8 && size === 10) {
      options.timestamp = { value: u32(p, i + 2), echo: u32(p, i + 6) };
    }
    i += size;
  }
  return {
    ok: true,
    segment: {
      sourcePort: (p[o]! << 8) | p[o + 1]!,
      destinationPort: (p[o + 2]! << 8) | p[o + 3]!,
      seq: u32(p, o + 4),
      ack: u32(p, o + 8),
      flags: p[o + 13]! & 0x3f,
      window: (p[o + 14]! << 8) | p[o + 15]!,
      options,
      data: p.subarray(end),
    },
  };
}

function u32(p: Uint8Array, at: number): number {
  return ((p[at]! << 24) | (p[at + 1]! << 16) | (p[at + 2]! << 8) | p[at + 3]!) >>> 0;
}

function put32(p: Uint8Array, at: number, v: number): void {
  p[at] = v >>> 24;
  p[at + 1] = (v >>> 16) & 0xff;
  p[at + 2] = (v >>> 8) & 0xff;
  p[at + 3] = v & 0xff;
}

/** Options encoded with NOP padding to a multiple of 4, in the layout Linux uses. */
function encodeOptions(options: TcpOptions): number[] {
  const out: number[] = [];
  if (options.mss !== undefined) out.push(2, 4, options.mss >> 8, options.mss & 0xff);
  if (options.sackPermitted && options.timestamp) out.push(4, 2);
  else if (options.sackPermitted) out.push(1, 1, 4, 2);
  if (options.timestamp) {
    if (!options.sackPermitted) out.push(1, 1);
    out.push(8, 10, 0, 0, 0, 0, 0, 0, 0, 0);
    const at = out.length - 8;
    const t = options.timestamp;
    for (let k = 0; k < 4; k++) {
      out[at + k] = (t.value >>> (24 - 8 * k)) & 0xff;
      out[at + 4 + k] = (t.echo >>> (24 - 8 * k)) & 0xff;
    }
  }
  if (options.windowScale !== undefined) out.push(1, 3, 3, options.windowScale);
  if (options.sack && options.sack.length > 0) {
    out.push(1, 1, 5, 2 + 8 * options.sack.length);
    for (const b of options.sack) {
      for (const v of [b.left, b.right]) {
        out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
      }
    }
  }
  while (out.length % 4 !== 0) out.push(1);
  return out;
}

export interface OutgoingSegment {
  family: IpFamily;
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options?: TcpOptions;
  data?: Uint8Array | SegmentData;
}

/** Data copied into the segment as it is built (from the send buffer, with no copy between). */
export interface SegmentData {
  readonly length: number;
  copyTo(target: Uint8Array, at: number): void;
}

/** A complete IP packet carrying one TCP segment, checksums filled in. */
export function buildSegment(s: OutgoingSegment): Uint8Array {
  const options = s.options ? encodeOptions(s.options) : [];
  const data = s.data ?? EMPTY;
  const headerLength = 20 + options.length;
  return buildIpPacket(
    s.family,
    s.source,
    s.destination,
    PROTO_TCP,
    headerLength + data.length,
    (p, o) => {
      p[o] = s.sourcePort >> 8;
      p[o + 1] = s.sourcePort & 0xff;
      p[o + 2] = s.destinationPort >> 8;
      p[o + 3] = s.destinationPort & 0xff;
      put32(p, o + 4, s.seq);
      put32(p, o + 8, s.ack);
      p[o + 12] = (headerLength / 4) << 4;
      p[o + 13] = s.flags;
      p[o + 14] = s.window >> 8;
      p[o + 15] = s.window & 0xff;
      p.set(options, o + 20);
      if (data instanceof Uint8Array) p.set(data, o + headerLength);
      else data.copyTo(p, o + headerLength);
    },
    16,
  );
}

const EMPTY = new Uint8Array(0);

/** Segment length in sequence space: data plus one for each of SYN and FIN (RFC 9293 §3.4). */
export function segmentLength(s: Segment): number {
  return s.data.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0);
}
