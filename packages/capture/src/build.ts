import { parseIPv4, parseIPv6 } from "./address.js";
import type { Endpoint } from "./decoded.js";

export interface UdpPacketToBuild {
  src: Endpoint;
  dst: Endpoint;
  payload: Uint8Array;
  /** IPv4 identification (default 0); ignored for IPv6. */
  identification?: number;
  /** IPv4 TTL / IPv6 hop limit (default 64). */
  hopLimit?: number;
}

/**
 * Synthesizes an IPv4 or IPv6 packet (by the address family of `src`) carrying one UDP datagram
 * with correct checksums: a LINKTYPE_RAW (101) frame, e.g. for captures of relayed messages.
 */
export function buildUdpPacket(packet: UdpPacketToBuild): Uint8Array {
  const { src, dst, payload, identification = 0, hopLimit = 64 } = packet;
  checkPort(src.port, "src");
  checkPort(dst.port, "dst");
  const udpLength = 8 + payload.length;
  const v4src = parseIPv4(src.address);
  if (v4src !== undefined) {
    const v4dst = parseIPv4(dst.address);
    if (v4dst === undefined)
      throw new TypeError(`buildUdpPacket: dst ${dst.address} is not IPv4 like src`);
    if (20 + udpLength > 0xffff) throw new RangeError("buildUdpPacket: payload too large for IPv4");
    const bytes = new Uint8Array(20 + udpLength);
    const view = new DataView(bytes.buffer);
    view.setUint8(0, 0x45);
    view.setUint16(2, bytes.length);
    view.setUint16(4, identification & 0xffff);
    view.setUint16(6, 0x4000); // don't fragment
    view.setUint8(8, hopLimit);
    view.setUint8(9, 17);
    bytes.set(v4src, 12);
    bytes.set(v4dst, 16);
    view.setUint16(10, ~sum16(bytes, 0, 20, 0) & 0xffff);
    writeUdp(bytes, view, 20, src.port, dst.port, payload, v4src, v4dst);
    return bytes;
  }
  const v6src = parseIPv6(src.address);
  const v6dst = parseIPv6(dst.address);
  if (v6src === undefined)
    throw new TypeError(`buildUdpPacket: src ${src.address} is not an IP address`);
  if (v6dst === undefined)
    throw new TypeError(`buildUdpPacket: dst ${dst.address} is not IPv6 like src`);
  if (udpLength > 0xffff) throw new RangeError("buildUdpPacket: payload too large for IPv6");
  const bytes = new Uint8Array(40 + udpLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x60000000);
  view.setUint16(4, udpLength);
  view.setUint8(6, 17);
  view.setUint8(7, hopLimit);
  bytes.set(v6src, 8);
  bytes.set(v6dst, 24);
  writeUdp(bytes, view, 40, src.port, dst.port, payload, v6src, v6dst);
  return bytes;
}

function writeUdp(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  srcAddress: Uint8Array,
  dstAddress: Uint8Array,
): void {
  const length = 8 + payload.length;
  view.setUint16(at, srcPort);
  view.setUint16(at + 2, dstPort);
  view.setUint16(at + 4, length);
  bytes.set(payload, at + 8);
  // Pseudo-header: addresses, protocol, UDP length (RFC 768 / RFC 8200 §8.1).
  let sum = sum16(srcAddress, 0, srcAddress.length, 0);
  sum = sum16(dstAddress, 0, dstAddress.length, sum);
  sum += 17 + length;
  sum = sum16(bytes, at, at + length, sum);
  const checksum = ~fold(sum) & 0xffff;
  view.setUint16(at + 6, checksum === 0 ? 0xffff : checksum);
}

function sum16(bytes: Uint8Array, start: number, end: number, initial: number): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if ((end - start) % 2 === 1) sum += bytes[end - 1]! << 8;
  return fold(sum);
}

function fold(value: number): number {
  let sum = value;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

function checkPort(port: number, which: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new RangeError(`buildUdpPacket: ${which} port must be 0–65535, got ${port}`);
  }
}
