/**
 * The IP layer: reads an incoming IPv4/IPv6 packet into its addresses and transport payload, and
 * wraps an outgoing transport segment in an IP header. Checksums come from @wiregate/packets.
 */
import { formatIp, type IpFamily, parseIp } from "@wiregate/core";
import { sum16, transportChecksum } from "@wiregate/packets";

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export interface IpDatagram {
  family: IpFamily;
  /** Canonical text (RFC 5952 for IPv6), as the socket API speaks it. */
  source: string;
  destination: string;
  protocol: number;
  hopLimit: number;
  /** The whole packet, trimmed to the length its header claims. */
  packet: Uint8Array;
  /** Offset of the transport header in `packet`. */
  offset: number;
}

export type IpParse = { ok: true; datagram: IpDatagram } | { ok: false; reason: string };

/**
 * Never throws. Fragments and IPv6 extension headers are refused: inside a WireGuard tunnel with a
 * correct MTU nothing is fragmented, and refusing them removes a whole class of reassembly attacks.
 */
export function parseIpPacket(packet: Uint8Array): IpParse {
  if (packet.length < 1) return { ok: false, reason: "empty packet" };
  const version = packet[0]! >> 4;
  if (version === 4) {
    if (packet.length < 20) return { ok: false, reason: "IPv4 header truncated" };
    const header = (packet[0]! & 0x0f) * 4;
    const total = (packet[2]! << 8) | packet[3]!;
    if (header < 20 || total < header || total > packet.length) {
      return { ok: false, reason: "IPv4 lengths inconsistent" };
    }
    if (sum16(packet, 0, header) !== 0xffff) return { ok: false, reason: "IPv4 header checksum" };
    const fragment = ((packet[6]! << 8) | packet[7]!) & 0x3fff; // MF flag and offset
    if (fragment !== 0) return { ok: false, reason: "IPv4 fragment" };
    return {
      ok: true,
      datagram: {
        family: 4,
        source: formatIp({ family: 4, bytes: packet.subarray(12, 16) }),
        destination: formatIp({ family: 4, bytes: packet.subarray(16, 20) }),
        protocol: packet[9]!,
        hopLimit: packet[8]!,
        packet: packet.subarray(0, total),
        offset: header,
      },
    };
  }
  if (version === 6) {
    if (packet.length < 40) return { ok: false, reason: "IPv6 header truncated" };
    const total = 40 + ((packet[4]! << 8) | packet[5]!);
    if (total > packet.length) return { ok: false, reason: "IPv6 payload length too long" };
    return {
      ok: true,
      datagram: {
        family: 6,
        source: formatIp({ family: 6, bytes: packet.subarray(8, 24) }),
        destination: formatIp({ family: 6, bytes: packet.subarray(24, 40) }),
        protocol: packet[6]!,
        hopLimit: packet[7]!,
        packet: packet.subarray(0, total),
        offset: 40,
      },
    };
  }
  return { ok: false, reason: `IP version ${version}` };
}

/** Whether the transport checksum (TCP, UDP, ICMPv6 with pseudo-header; ICMPv4 without) holds. */
export function transportChecksumValid(d: IpDatagram): boolean {
  if (d.family === 4 && d.protocol === PROTO_ICMP) {
    return sum16(d.packet, d.offset, d.packet.length) === 0xffff;
  }
  return transportChecksum(d.packet, d.family, d.offset, d.protocol) === 0;
}

const addressCache = new Map<string, Uint8Array>();

/** Address bytes for canonical text; throws on text that is not an address (a caller's bug). */
export function addressBytes(text: string): Uint8Array {
  let bytes = addressCache.get(text);
  if (bytes === undefined) {
    const parsed = parseIp(text);
    if (!parsed.ok) throw new TypeError(parsed.error);
    bytes = parsed.address.bytes;
    if (addressCache.size > 1024) addressCache.clear();
    addressCache.set(text, bytes);
  }
  return bytes;
}

export function familyOf(text: string): IpFamily {
  return text.includes(":") ? 6 : 4;
}

/**
 * An IP packet around `segment` (whose checksum field is at `checksumAt`, zero on entry, and is
 * filled in here). `segmentLength` lets the caller build the segment in place at the header's end.
 */
export function buildIpPacket(
  family: IpFamily,
  source: string,
  destination: string,
  protocol: number,
  segmentLength: number,
  fill: (packet: Uint8Array, offset: number) => void,
  checksumAt: number,
): Uint8Array {
  const header = family === 4 ? 20 : 40;
  const packet = new Uint8Array(header + segmentLength);
  if (family === 4) {
    packet[0] = 0x45;
    packet[2] = packet.length >> 8;
    packet[3] = packet.length & 0xff;
    packet[6] = 0x40; // DF: we size segments to the tunnel MTU and never fragment
    packet[8] = 64;
    packet[9] = protocol;
    packet.set(addressBytes(source), 12);
    packet.set(addressBytes(destination), 16);
    const c = ~sum16(packet, 0, 20) & 0xffff;
    packet[10] = c >> 8;
    packet[11] = c & 0xff;
  } else {
    packet[0] = 0x60;
    packet[4] = segmentLength >> 8;
    packet[5] = segmentLength & 0xff;
    packet[6] = protocol;
    packet[7] = 64;
    packet.set(addressBytes(source), 8);
    packet.set(addressBytes(destination), 24);
  }
  fill(packet, header);
  const c =
    family === 4 && protocol === PROTO_ICMP
      ? ~sum16(packet, header, packet.length) & 0xffff
      : transportChecksum(packet, family, header, protocol);
  const value = protocol === PROTO_UDP && c === 0 ? 0xffff : c;
  packet[header + checksumAt] = value >> 8;
  packet[header + checksumAt + 1] = value & 0xff;
  return packet;
}
