/**
 * The plaintext side of the tunnel: building and reading the IPv4/IPv6 packets a WireGuard peer
 * carries — ICMP/ICMPv6 echo and UDP — with correct checksums. Browser-safe.
 */
import { formatIp, type IpFamily, ipFamilyOf, ipPacketLength, parseIp } from "@wiregate/core";

const ICMP = 1;
const UDP = 17;
const ICMPV6 = 58;

export type Protocol = "icmp" | "udp" | "other";

export interface ParsedPacket {
  family: IpFamily;
  source: string;
  destination: string;
  protocol: Protocol;
  /** IP protocol number / IPv6 next header. */
  protocolNumber: number;
  /** ICMP echo: type is "request" or "reply". */
  echo?: { type: "request" | "reply"; id: number; sequence: number; data: Uint8Array };
  udp?: { sourcePort: number; destinationPort: number; data: Uint8Array };
  /** Total length the IP header claims. */
  length: number;
}

function address(text: string, label: string): Address {
  const parsed = parseIp(text);
  if (!parsed.ok) throw new TypeError(`${label}: ${parsed.error}`);
  return parsed.address;
}

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/**
 * RFC 1071 one's-complement sum of `bytes[start, end)` added to `initial` (not inverted). Four
 * 16-bit words per big-endian 32-bit read (every TCP segment is summed twice, when built and when
 * it arrives); the sum stays exact in a double far beyond any packet's length.
 */
export function sum16(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  if (end - start >= 16) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (; i + 8 <= end; i += 8) {
      const a = view.getUint32(i);
      const b = view.getUint32(i + 4);
      sum += (a >>> 16) + (a & 0xffff) + (b >>> 16) + (b & 0xffff);
    }
  }
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  return fold(sum);
}

/**
 * Checksum over the IPv4/IPv6 pseudo-header and the transport segment from `offset` to the end of
 * `packet` (the checksum field itself must be zero when building, and the result is 0 when valid).
 */
export function transportChecksum(
  packet: Uint8Array,
  family: IpFamily,
  offset: number,
  protocol: number,
): number {
  const length = packet.length - offset;
  const [src, dst] = family === 4 ? [12, 16] : [8, 24];
  const size = family === 4 ? 4 : 16;
  let sum = sum16(packet, src, src + size);
  sum = sum16(packet, dst, dst + size, sum);
  sum += protocol + length;
  return ~sum16(packet, offset, packet.length, fold(sum)) & 0xffff;
}

/** Optional IP header fields. */
export interface HeaderOptions {
  /** IPv4 identification (default 0); ignored for IPv6. */
  identification?: number;
  /** IPv4 TTL / IPv6 hop limit (default 64). */
  hopLimit?: number;
}

/** An IP address as `parseIp` gives it. */
type Address = { family: IpFamily; bytes: Uint8Array };

/** An IP packet around a transport payload whose checksum field is at `checksumAt` (relative). */
function ipPacket(
  source: string,
  destination: string,
  protocol: "icmp" | "udp",
  segment: Uint8Array,
  checksumAt: number,
  options: HeaderOptions = {},
): Uint8Array {
  const src = address(source, "source");
  const dst = address(destination, "destination");
  if (src.family !== dst.family) throw new TypeError("source and destination families differ");
  return ipPacketOf(src, dst, protocol, segment, checksumAt, options);
}

/** {@link ipPacket} between addresses already in bytes, of one family. */
function ipPacketOf(
  src: Address,
  dst: Address,
  protocol: "icmp" | "udp",
  segment: Uint8Array,
  checksumAt: number,
  { identification = 0, hopLimit = 64 }: HeaderOptions = {},
): Uint8Array {
  const family = src.family;
  const number = protocol === "udp" ? UDP : family === 4 ? ICMP : ICMPV6;
  const header = family === 4 ? 20 : 40;
  const packet = new Uint8Array(header + segment.length);
  const view = new DataView(packet.buffer);
  if (family === 4) {
    view.setUint8(0, 0x45);
    view.setUint16(2, packet.length);
    view.setUint16(4, identification & 0xffff);
    view.setUint8(8, hopLimit);
    view.setUint8(9, number);
    packet.set(src.bytes, 12);
    packet.set(dst.bytes, 16);
    view.setUint16(10, ~sum16(packet, 0, 20) & 0xffff);
  } else {
    view.setUint32(0, 0x60000000);
    view.setUint16(4, segment.length);
    view.setUint8(6, number);
    view.setUint8(7, hopLimit);
    packet.set(src.bytes, 8);
    packet.set(dst.bytes, 24);
  }
  packet.set(segment, header);
  // ICMPv4's checksum covers only the ICMP message; UDP and ICMPv6 include the pseudo-header.
  const checksum =
    family === 4 && number === ICMP
      ? ~sum16(packet, header, packet.length) & 0xffff
      : transportChecksum(packet, family, header, number);
  view.setUint16(header + checksumAt, number === UDP && checksum === 0 ? 0xffff : checksum);
  return packet;
}

/** An ICMP (IPv4) or ICMPv6 echo request or reply, by the family of the addresses. */
export function buildEcho(options: {
  source: string;
  destination: string;
  id: number;
  sequence: number;
  data?: Uint8Array;
  reply?: boolean;
}): Uint8Array {
  const v6 = address(options.source, "source").family === 6;
  const segment = echoSegment(v6 ? 6 : 4, options);
  return ipPacket(options.source, options.destination, "icmp", segment, 2);
}

/** An ICMP or ICMPv6 echo message (checksum left zero). */
function echoSegment(
  family: IpFamily,
  options: { id: number; sequence: number; data?: Uint8Array; reply?: boolean },
): Uint8Array {
  const data = options.data ?? new Uint8Array(0);
  const segment = new Uint8Array(8 + data.length);
  segment[0] = options.reply ? (family === 6 ? 129 : 0) : family === 6 ? 128 : 8;
  const view = new DataView(segment.buffer);
  view.setUint16(4, options.id & 0xffff);
  view.setUint16(6, options.sequence & 0xffff);
  segment.set(data, 8);
  return segment;
}

export function buildUdp(
  options: {
    source: string;
    destination: string;
    sourcePort: number;
    destinationPort: number;
    data: Uint8Array;
  } & HeaderOptions,
): Uint8Array {
  for (const port of [options.sourcePort, options.destinationPort]) {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
      throw new RangeError(`port: ${port} is not 0–65535`);
    }
  }
  if (8 + options.data.length > 0xffff - (options.source.includes(":") ? 0 : 20)) {
    throw new RangeError(`data: ${options.data.length} bytes do not fit in one IP packet`);
  }
  const segment = udpSegment(options.sourcePort, options.destinationPort, options.data);
  return ipPacket(options.source, options.destination, "udp", segment, 6, options);
}

/** A UDP header and its data (checksum left zero). */
function udpSegment(sourcePort: number, destinationPort: number, data: Uint8Array): Uint8Array {
  const segment = new Uint8Array(8 + data.length);
  const view = new DataView(segment.buffer);
  view.setUint16(0, sourcePort);
  view.setUint16(2, destinationPort);
  view.setUint16(4, segment.length);
  segment.set(data, 8);
  return segment;
}

/** Reads an IPv4/IPv6 packet; null when it is not a well-formed one. Never throws. */
export function parsePacket(packet: Uint8Array): ParsedPacket | null {
  const length = ipPacketLength(packet);
  if (length < 0) return null;
  const family = ipFamilyOf(packet);
  const header = headerLength(packet);
  const number = family === 4 ? packet[9]! : packet[6]!;
  const [src, dst, size] = family === 4 ? [12, 16, 4] : [8, 24, 16];
  const result: ParsedPacket = {
    family,
    source: formatIp({ family, bytes: packet.subarray(src, src + size) }),
    destination: formatIp({ family, bytes: packet.subarray(dst, dst + size) }),
    protocol: "other",
    protocolNumber: number,
    length,
  };
  const body = packet.subarray(header, length);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (number === (family === 4 ? ICMP : ICMPV6)) {
    result.protocol = "icmp";
    const type = echoTypeOf(family, number, body);
    if (type) {
      result.echo = {
        type,
        id: view.getUint16(4),
        sequence: view.getUint16(6),
        data: body.subarray(8),
      };
    }
  } else if (number === UDP) {
    const udp = udpLength(packet, header, length);
    if (udp === -2) return null;
    if (udp >= 0) {
      result.protocol = "udp";
      result.udp = {
        sourcePort: view.getUint16(0),
        destinationPort: view.getUint16(2),
        data: body.subarray(8, udp),
      };
    }
  }
  return result;
}

/**
 * What `parsePacket` says of a packet's transport, read in place for a per-packet dispatch: the
 * protocol number, or -1 when `parsePacket` would return null. Allocates nothing.
 */
export function protocolOf(packet: Uint8Array): number {
  const length = ipPacketLength(packet);
  if (length < 0) return -1;
  const number = ipFamilyOf(packet) === 4 ? packet[9]! : packet[6]!;
  return number === UDP && udpLength(packet, headerLength(packet), length) === -2 ? -1 : number;
}

/**
 * The ports of a UDP packet as `parsePacket` reads them, `source * 65536 + destination`, or -1
 * when it is not one (any other protocol, or not well formed). Allocates nothing.
 */
export function udpPorts(packet: Uint8Array): number {
  if (protocolOf(packet) !== UDP) return -1;
  const header = headerLength(packet);
  if (udpLength(packet, header, ipPacketLength(packet)) < 0) return -1;
  return (
    ((packet[header]! << 8) | packet[header + 1]!) * 65536 +
    ((packet[header + 2]! << 8) | packet[header + 3]!)
  );
}

/** The IP header's length of a packet core's `ipPacketLength` accepted (40 for IPv6). */
function headerLength(packet: Uint8Array): number {
  return ipFamilyOf(packet) === 4 ? (packet[0]! & 0x0f) * 4 : 40;
}

/**
 * The UDP header's length field of a packet of `length` bytes: -1 when the body is shorter than a
 * UDP header (parsePacket then calls it "other"), -2 when the field is out of bounds (parsePacket
 * returns null).
 */
function udpLength(packet: Uint8Array, header: number, length: number): number {
  const body = length - header;
  if (body < 8) return -1;
  const udp = (packet[header + 4]! << 8) | packet[header + 5]!;
  return udp < 8 || udp > body ? -2 : udp;
}

/** Whether the packet's IP (v4) and transport checksums are correct. */
export function checksumsValid(packet: Uint8Array): boolean {
  const parsed = parsePacket(packet);
  if (!parsed) return false;
  const p = packet.subarray(0, parsed.length);
  const header = parsed.family === 4 ? (p[0]! & 0x0f) * 4 : 40;
  if (parsed.family === 4 && sum16(p, 0, header) !== 0xffff) return false;
  if (parsed.family === 4 && parsed.protocol === "icmp")
    return sum16(p, header, p.length) === 0xffff;
  if (parsed.protocol === "other") return true;
  return transportChecksum(p, parsed.family, header, parsed.protocolNumber) === 0;
}

/**
 * The answer an echo server gives: an ICMP echo reply to an echo request, or the same UDP
 * datagram sent back with addresses and ports swapped; null for anything else (what
 * `parsePacket` reads as neither). Read in place: an echo server answers every packet with it.
 */
export function echoReply(packet: Uint8Array): Uint8Array | null {
  const length = ipPacketLength(packet);
  if (length < 0) return null;
  const family = ipFamilyOf(packet);
  const header = headerLength(packet);
  const number = family === 4 ? packet[9]! : packet[6]!;
  const body = packet.subarray(header, length);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const [src, dst, size] = family === 4 ? [12, 16, 4] : [8, 24, 16];
  // The reply goes back: from the request's destination to its source.
  const from = { family, bytes: packet.subarray(dst, dst + size) };
  const to = { family, bytes: packet.subarray(src, src + size) };
  if (echoTypeOf(family, number, body) === "request") {
    const reply = echoSegment(family, {
      id: view.getUint16(4),
      sequence: view.getUint16(6),
      data: body.subarray(8),
      reply: true,
    });
    return ipPacketOf(from, to, "icmp", reply, 2);
  }
  const udp = number === UDP ? udpLength(packet, header, length) : -1;
  if (udp < 0) return null;
  const reply = udpSegment(view.getUint16(2), view.getUint16(0), body.subarray(8, udp));
  return ipPacketOf(from, to, "udp", reply, 6);
}

/** What an IP packet's body is when it is an ICMP (IPv4) or ICMPv6 (IPv6) echo, else undefined. */
function echoTypeOf(
  family: IpFamily,
  protocol: number,
  body: Uint8Array,
): "request" | "reply" | undefined {
  if (protocol !== (family === 4 ? ICMP : ICMPV6) || body.length < 8 || body[1] !== 0) return;
  if (body[0] === (family === 4 ? 8 : 128)) return "request";
  if (body[0] === (family === 4 ? 0 : 129)) return "reply";
  return;
}

export * from "./demo.js";
export { summarizePacket } from "./summary.js";
