import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildUdpPacket } from "../src/build.js";
import type { CaptureRecord, PacketRecord } from "../src/records.js";

/** The shared captures live in `shared/captures` beside the repository root. */
export const CAPTURES_DIR = fileURLToPath(new URL("../../../../shared/captures/", import.meta.url));

/** tshark, the reference: the repository's one wrapper (a missing tshark fails the test). */
export { tshark, tsharkRows } from "../../../test/helpers/tshark.js";

/** A scratch directory removed by the returned cleanup. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "wiregate-capture-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeTemp(dir: string, name: string, chunks: Uint8Array[]): string {
  const path = join(dir, name);
  writeFileSync(path, concat(chunks));
  return path;
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

export function packets(records: CaptureRecord[]): PacketRecord[] {
  return records.filter((r): r is PacketRecord => r.kind === "packet");
}

export interface PcapRecordSpec {
  seconds: number;
  fraction: number;
  data: Uint8Array;
  originalLength?: number;
}

/** A classic pcap file, for tests (the library writes pcapng only). */
export function buildPcap(options: {
  littleEndian: boolean;
  nanoseconds: boolean;
  linkType: number;
  snaplen?: number;
  records: PcapRecordSpec[];
}): Uint8Array {
  const { littleEndian: le, nanoseconds, linkType, snaplen = 262144, records } = options;
  const total = 24 + records.reduce((n, r) => n + 16 + r.data.length, 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, le);
  view.setUint16(4, 2, le);
  view.setUint16(6, 4, le);
  view.setUint32(16, snaplen, le);
  view.setUint32(20, linkType, le);
  let at = 24;
  for (const r of records) {
    view.setUint32(at, r.seconds, le);
    view.setUint32(at + 4, r.fraction, le);
    view.setUint32(at + 8, r.data.length, le);
    view.setUint32(at + 12, r.originalLength ?? r.data.length, le);
    bytes.set(r.data, at + 16);
    at += 16 + r.data.length;
  }
  return bytes;
}

/** A WireGuard transport message with the given receiver and counter (and zero "ciphertext"). */
export function wgTransport(receiver: number, counter: bigint, bodyLength = 16): Uint8Array {
  const bytes = new Uint8Array(32 + bodyLength);
  const view = new DataView(bytes.buffer);
  bytes[0] = 4;
  view.setUint32(4, receiver, true);
  view.setBigUint64(8, counter, true);
  for (let i = 16; i < bytes.length; i++) bytes[i] = (i * 37) & 0xff;
  return bytes;
}

/** A WireGuard handshake initiation with the given sender index. */
export function wgInitiation(sender: number): Uint8Array {
  const bytes = new Uint8Array(148);
  bytes[0] = 1;
  new DataView(bytes.buffer).setUint32(4, sender, true);
  for (let i = 8; i < bytes.length; i++) bytes[i] = (i * 11) & 0xff;
  return bytes;
}

export function udp4(payload: Uint8Array, srcPort = 51820, dstPort = 51821, identification = 0) {
  return buildUdpPacket({
    src: { address: "10.0.0.1", port: srcPort },
    dst: { address: "10.0.0.2", port: dstPort },
    payload,
    identification,
  });
}

export function udp6(payload: Uint8Array, srcPort = 51820, dstPort = 51821) {
  return buildUdpPacket({
    src: { address: "fd00::1", port: srcPort },
    dst: { address: "fd00::2", port: dstPort },
    payload,
  });
}

export function ethernet(ip: Uint8Array, vlanTpids: number[] = []): Uint8Array {
  const etherType = ip[0]! >> 4 === 6 ? 0x86dd : 0x0800;
  const header = new Uint8Array(14 + 4 * vlanTpids.length);
  header.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  const view = new DataView(header.buffer);
  let at = 12;
  vlanTpids.forEach((tpid, i) => {
    view.setUint16(at, tpid);
    view.setUint16(at + 2, 100 + i); // VLAN id
    at += 4;
  });
  view.setUint16(at, etherType);
  return concat([header, ip]);
}

export function linuxSll(ip: Uint8Array): Uint8Array {
  const header = new Uint8Array(16);
  const view = new DataView(header.buffer);
  view.setUint16(0, 0); // to us
  view.setUint16(2, 1); // ARPHRD_ETHER
  view.setUint16(4, 6);
  header.set([2, 0, 0, 0, 0, 1], 6);
  view.setUint16(14, ip[0]! >> 4 === 6 ? 0x86dd : 0x0800);
  return concat([header, ip]);
}

export function linuxSll2(ip: Uint8Array): Uint8Array {
  const header = new Uint8Array(20);
  const view = new DataView(header.buffer);
  view.setUint16(0, ip[0]! >> 4 === 6 ? 0x86dd : 0x0800);
  view.setUint32(4, 3); // interface index
  view.setUint16(8, 1); // ARPHRD_ETHER
  header[10] = 0;
  header[11] = 6;
  header.set([2, 0, 0, 0, 0, 1], 12);
  return concat([header, ip]);
}

/** BSD null (host byte order family) or OpenBSD loop (network order). */
export function loopback(ip: Uint8Array, family: number, littleEndian: boolean): Uint8Array {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, family, littleEndian);
  return concat([header, ip]);
}

/** Splits an IPv4 packet (20-byte header) into fragments carrying `size` payload bytes each. */
export function fragmentIPv4(packet: Uint8Array, size: number): Uint8Array[] {
  const payload = packet.subarray(20);
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < payload.length; offset += size) {
    const piece = payload.subarray(offset, Math.min(payload.length, offset + size));
    const fragment = new Uint8Array(20 + piece.length);
    fragment.set(packet.subarray(0, 20));
    fragment.set(piece, 20);
    const view = new DataView(fragment.buffer);
    view.setUint16(2, fragment.length);
    const more = offset + size < payload.length;
    view.setUint16(6, (more ? 0x2000 : 0) | (offset / 8));
    view.setUint16(10, 0);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += view.getUint16(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    view.setUint16(10, ~sum & 0xffff);
    out.push(fragment);
  }
  return out;
}

/**
 * Inserts IPv6 extension headers (hop-by-hop 0, routing 43, destination options 60) in front
 * of the upper-layer header of an IPv6 packet without extension headers.
 */
export function withIPv6Extensions(packet: Uint8Array, types: number[]): Uint8Array {
  const upper = packet[6]!;
  const parts: Uint8Array[] = [packet.subarray(0, 40)];
  types.forEach((type, i) => {
    const header = new Uint8Array(type === 43 ? 24 : 8);
    header[0] = types[i + 1] ?? upper;
    header[1] = header.length / 8 - 1;
    if (type === 43)
      header[2] = 0; // routing type 0 with segments left 0
    else header.set([1, 4, 0, 0, 0, 0], 2); // a PadN option filling the header
    parts.push(header);
  });
  parts.push(packet.subarray(40));
  const out = concat(parts);
  const view = new DataView(out.buffer);
  view.setUint16(4, out.length - 40);
  out[6] = types[0] ?? upper;
  return out;
}

/** Splits an IPv6 packet (no extension headers) into fragments of `size` fragmentable bytes. */
export function fragmentIPv6(packet: Uint8Array, size: number, id = 0x1234): Uint8Array[] {
  const upper = packet[6]!;
  const fragmentable = packet.subarray(40);
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < fragmentable.length; offset += size) {
    const piece = fragmentable.subarray(offset, Math.min(fragmentable.length, offset + size));
    const fragment = new Uint8Array(48 + piece.length);
    fragment.set(packet.subarray(0, 40));
    const view = new DataView(fragment.buffer);
    view.setUint16(4, 8 + piece.length);
    fragment[6] = 44;
    fragment[40] = upper;
    const more = offset + size < fragmentable.length;
    view.setUint16(42, offset | (more ? 1 : 0));
    view.setUint32(44, id);
    fragment.set(piece, 48);
    out.push(fragment);
  }
  return out;
}
