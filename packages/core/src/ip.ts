// IP address utilities shared by configuration, routing and packet code.
// Addresses are raw bytes (4 for IPv4, 16 for IPv6) so routing never converts to text on the hot path.

import { abytes } from "./validate.js";

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** 4 bytes for IPv4, 16 bytes for IPv6, network order. */
  bytes: Uint8Array;
}

/** A CIDR prefix. Host bits are kept as written (an interface Address like 10.0.0.1/24 needs them). */
export interface IpPrefix {
  family: IpFamily;
  bytes: Uint8Array;
  length: number;
}

export type IpParseResult = { ok: true; address: IpAddress } | { ok: false; error: string };
export type CidrParseResult = { ok: true; prefix: IpPrefix } | { ok: false; error: string };
type BytesResult = { ok: true; bytes: Uint8Array } | { ok: false; error: string };

export function addressLength(family: IpFamily): 4 | 16 {
  return family === 4 ? 4 : 16;
}

export function maxPrefixLength(family: IpFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

const DECIMAL_OCTET = /^[0-9]{1,3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

export function parseIpv4(text: string): BytesResult {
  const parts = text.split(".");
  if (parts.length !== 4) {
    return {
      ok: false,
      error: `'${text}' is not an IPv4 address (expected 4 dot-separated numbers)`,
    };
  }
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!DECIMAL_OCTET.test(part)) {
      return {
        ok: false,
        error: `'${text}' is not an IPv4 address ('${part}' is not a number 0–255)`,
      };
    }
    // inet_pton rejects leading zeros too: "010" could mean octal to some readers.
    if (part.length > 1 && part[0] === "0") {
      return {
        ok: false,
        error: `'${text}' is not an IPv4 address ('${part}' has a leading zero)`,
      };
    }
    const value = Number(part);
    if (value > 255) {
      return { ok: false, error: `'${text}' is not an IPv4 address (${part} is greater than 255)` };
    }
    bytes[i] = value;
  }
  return { ok: true, bytes };
}

export function parseIpv6(text: string): BytesResult {
  const fail = (why: string): BytesResult => ({
    ok: false,
    error: `'${text}' is not an IPv6 address (${why})`,
  });
  if (text.includes("%")) return fail("zone identifiers are not supported");
  const halves = text.split("::");
  if (halves.length > 2) return fail("'::' may appear only once");

  const parseSide = (side: string, allowTrailingIpv4: boolean): number[] | string => {
    if (side === "") return [];
    const groups = side.split(":");
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      const isLast = i === groups.length - 1;
      if (isLast && allowTrailingIpv4 && group.includes(".")) {
        const v4 = parseIpv4(group);
        if (!v4.ok) return `embedded ${v4.error}`;
        words.push((v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!);
        continue;
      }
      if (group === "") return "empty group (a single ':' where '::' or a number was expected)";
      if (!HEX_GROUP.test(group)) return `'${group}' is not a 1–4 digit hex group`;
      words.push(Number.parseInt(group, 16));
    }
    return words;
  };

  const head = parseSide(halves[0]!, halves.length === 1);
  if (typeof head === "string") return fail(head);
  let words: number[];
  if (halves.length === 2) {
    const tail = parseSide(halves[1]!, true);
    if (typeof tail === "string") return fail(tail);
    const missing = 8 - head.length - tail.length;
    // "::" stands for at least one zero group (RFC 4291 §2.2).
    if (missing < 1) return fail("'::' must stand for at least one zero group");
    words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    if (head.length !== 8) return fail(`expected 8 groups, found ${head.length}`);
    words = head;
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = words[i]! >> 8;
    bytes[2 * i + 1] = words[i]! & 0xff;
  }
  return { ok: true, bytes };
}

/** Parses an IPv4 or IPv6 address (no brackets, no zone id). */
export function parseIp(text: string): IpParseResult {
  if (text === "") return { ok: false, error: "empty address" };
  const result = text.includes(":") ? parseIpv6(text) : parseIpv4(text);
  if (!result.ok) return result;
  return { ok: true, address: { family: result.bytes.length === 4 ? 4 : 6, bytes: result.bytes } };
}

export function formatIpv4(bytes: Uint8Array): string {
  abytes(bytes, 4, "formatIpv4");
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 canonical text: lowercase, no leading zeros, longest zero run (≥ 2 groups, first on a tie) as "::". */
export function formatIpv6(bytes: Uint8Array): string {
  abytes(bytes, 16, "formatIpv6");
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);

  // IPv4-mapped addresses are written with the IPv4 part dotted (RFC 5952 §5).
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }

  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    words
      .slice(from, to)
      .map((w) => w.toString(16))
      .join(":");
  if (bestLength < 2) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

export function formatIp(address: IpAddress): string {
  return address.family === 4 ? formatIpv4(address.bytes) : formatIpv6(address.bytes);
}

/**
 * Parses "address/length"; a bare address means a host prefix (/32 or /128), as `wg` accepts.
 * Host bits are not cleared: see {@link maskPrefix}.
 */
export function parseCidr(text: string): CidrParseResult {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const parsed = parseIp(addressText);
  if (!parsed.ok) return { ok: false, error: `'${text}' is not a valid prefix (${parsed.error})` };
  const { family, bytes } = parsed.address;
  const max = maxPrefixLength(family);
  if (slash === -1) return { ok: true, prefix: { family, bytes, length: max } };
  const lengthText = text.slice(slash + 1);
  const range = `IPv${family} prefix length must be 0–${max}`;
  if (!/^[0-9]{1,3}$/.test(lengthText) || (lengthText.length > 1 && lengthText[0] === "0")) {
    return { ok: false, error: `'${text}' is not a valid prefix (${range})` };
  }
  const length = Number(lengthText);
  if (length > max) return { ok: false, error: `'${text}' is not a valid prefix (${range})` };
  return { ok: true, prefix: { family, bytes, length } };
}

export function formatCidr(prefix: IpPrefix): string {
  return `${formatIp(prefix)}/${prefix.length}`;
}

/** A copy of the prefix with every bit past `length` cleared. */
export function maskPrefix(prefix: IpPrefix): IpPrefix {
  const bytes = Uint8Array.from(prefix.bytes);
  for (let bit = prefix.length; bit < bytes.length * 8; bit++) {
    bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  return { family: prefix.family, bytes, length: prefix.length };
}

export interface PacketAddresses {
  family: IpFamily;
  /** Views into the packet (no copy). */
  source: Uint8Array;
  destination: Uint8Array;
  /** Length the IP header claims for the whole packet; bytes past it are padding. */
  totalLength: number;
}

/**
 * The length the IP header of a plaintext packet claims for the whole packet, or -1 when the bytes
 * are not a well-formed IPv4/IPv6 packet (wrong version nibble, truncated header, or a length field
 * past the end). Allocates nothing: the per-packet path reads the addresses in place with
 * {@link ipFamilyOf}, {@link sourceOffset} and {@link destinationOffset}.
 */
export function ipPacketLength(packet: Uint8Array): number {
  if (packet.length < 1) return -1;
  const version = packet[0]! >> 4;
  if (version === 4) {
    if (packet.length < 20) return -1;
    const headerLength = (packet[0]! & 0x0f) * 4;
    const totalLength = (packet[2]! << 8) | packet[3]!;
    if (headerLength < 20 || totalLength < headerLength || totalLength > packet.length) return -1;
    return totalLength;
  }
  if (version === 6) {
    if (packet.length < 40) return -1;
    const totalLength = 40 + ((packet[4]! << 8) | packet[5]!);
    return totalLength > packet.length ? -1 : totalLength;
  }
  return -1;
}

/** The family of a packet {@link ipPacketLength} accepted (its version nibble). */
export function ipFamilyOf(packet: Uint8Array): IpFamily {
  return packet[0]! >> 4 === 4 ? 4 : 6;
}

/** Where the source address starts in an IP header of `family`. */
export function sourceOffset(family: IpFamily): number {
  return family === 4 ? 12 : 8;
}

/** Where the destination address starts in an IP header of `family`. */
export function destinationOffset(family: IpFamily): number {
  return family === 4 ? 16 : 24;
}

/**
 * Source and destination of a plaintext IP packet, or null when the bytes are not a well-formed
 * IPv4/IPv6 packet (as {@link ipPacketLength}).
 */
export function packetAddresses(packet: Uint8Array): PacketAddresses | null {
  const totalLength = ipPacketLength(packet);
  if (totalLength < 0) return null;
  const family = ipFamilyOf(packet);
  const source = sourceOffset(family);
  const destination = destinationOffset(family);
  const size = addressLength(family);
  return {
    family,
    source: packet.subarray(source, source + size),
    destination: packet.subarray(destination, destination + size),
    totalLength,
  };
}
