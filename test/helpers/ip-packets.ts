/**
 * Minimal IPv4/IPv6 packet builders and parsers for what tunnel tests (and a demo peer) need:
 * ICMP / ICMPv6 echo and UDP, with correct checksums, plus responders that turn an echo request
 * into its reply. Self-contained: no dependency besides the platform.
 *
 * Only plain packets are handled: IPv4 options are skipped when parsing (never written), IPv6
 * extension headers and fragments are not understood (the parsers return undefined for them).
 */

export type IpFamily = 4 | 6;

const PROTO_ICMP = 1;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
const ICMPV6_ECHO_REQUEST = 128;
const ICMPV6_ECHO_REPLY = 129;
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const DEFAULT_HOP_LIMIT = 64;

// ---------------------------------------------------------------- addresses

/** Parses a textual IPv4 or IPv6 address (no zone, no prefix length) into 4 or 16 bytes. */
export function parseAddress(text: string): Uint8Array {
  const v4 = parseIpv4(text);
  if (v4) return v4;
  const v6 = parseIpv6(text);
  if (v6) return v6;
  throw new RangeError(`not an IP address: ${JSON.stringify(text)}`);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) out.push(Number.parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** Formats 4 or 16 address bytes (IPv6 in RFC 5952 form: lower case, longest zero run as `::`). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16)
    throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(":");
  if (best.start < 0) return hex(0, 8);
  return `${hex(0, best.start)}::${hex(best.start + best.length, 8)}`;
}

function familyOf(address: Uint8Array): IpFamily {
  return address.length === 4 ? 4 : 6;
}

// ---------------------------------------------------------------- checksums

/** Adds 16-bit big-endian words of `bytes` (odd length padded with a zero byte) to `sum`. */
function sumWords(bytes: Uint8Array, sum = 0): number {
  let s = sum;
  for (let i = 0; i + 1 < bytes.length; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length % 2 === 1) s += bytes[bytes.length - 1]! << 8;
  return s;
}

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** RFC 1071 Internet checksum of `bytes`, starting from a partial sum (e.g. a pseudo-header). */
export function internetChecksum(bytes: Uint8Array, partial = 0): number {
  return ~fold(sumWords(bytes, partial)) & 0xffff;
}

/** Sum over the pseudo-header both UDP (v4 and v6) and ICMPv6 checksums cover. */
function pseudoHeaderSum(
  source: Uint8Array,
  destination: Uint8Array,
  protocol: number,
  length: number,
): number {
  return sumWords(source) + sumWords(destination) + protocol + length;
}

// ---------------------------------------------------------------- IP layer

export interface IpHeader {
  family: IpFamily;
  source: string;
  destination: string;
  /** IPv4 protocol / IPv6 next header. */
  protocol: number;
  /** TTL / hop limit. */
  hopLimit: number;
  /** The transport-layer bytes (exactly as long as the header says). */
  payload: Uint8Array;
}

/** Wraps a transport payload in an IPv4 (no options, DF set) or IPv6 header. */
function buildIp(
  source: Uint8Array,
  destination: Uint8Array,
  protocol: number,
  payload: Uint8Array,
  hopLimit: number,
): Uint8Array {
  if (source.length !== destination.length) {
    throw new RangeError("source and destination must be of the same IP family");
  }
  if (source.length === 4) {
    const packet = new Uint8Array(IPV4_HEADER + payload.length);
    if (packet.length > 0xffff) throw new RangeError("IPv4 packet too long");
    const view = new DataView(packet.buffer);
    packet[0] = 0x45;
    view.setUint16(2, packet.length);
    view.setUint16(6, 0x4000); // don't fragment
    packet[8] = hopLimit;
    packet[9] = protocol;
    packet.set(source, 12);
    packet.set(destination, 16);
    view.setUint16(10, internetChecksum(packet.subarray(0, IPV4_HEADER)));
    packet.set(payload, IPV4_HEADER);
    return packet;
  }
  if (payload.length > 0xffff) throw new RangeError("IPv6 payload too long");
  const packet = new Uint8Array(IPV6_HEADER + payload.length);
  const view = new DataView(packet.buffer);
  packet[0] = 0x60;
  view.setUint16(4, payload.length);
  packet[6] = protocol;
  packet[7] = hopLimit;
  packet.set(source, 8);
  packet.set(destination, 24);
  packet.set(payload, IPV6_HEADER);
  return packet;
}

/** Parses an IPv4 or IPv6 header; undefined for anything malformed (or an IPv4 bad checksum). */
export function parseIp(packet: Uint8Array): IpHeader | undefined {
  const version = packet[0] === undefined ? 0 : packet[0] >> 4;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  if (version === 4) {
    if (packet.length < IPV4_HEADER) return undefined;
    const headerLength = (packet[0]! & 0x0f) * 4;
    const total = view.getUint16(2);
    if (headerLength < IPV4_HEADER || total < headerLength || total > packet.length)
      return undefined;
    if (internetChecksum(packet.subarray(0, headerLength)) !== 0) return undefined;
    if ((view.getUint16(6) & 0x3fff) !== 0) return undefined; // a fragment
    return {
      family: 4,
      source: formatAddress(packet.subarray(12, 16)),
      destination: formatAddress(packet.subarray(16, 20)),
      protocol: packet[9]!,
      hopLimit: packet[8]!,
      payload: packet.subarray(headerLength, total),
    };
  }
  if (version === 6) {
    if (packet.length < IPV6_HEADER) return undefined;
    const end = IPV6_HEADER + view.getUint16(4);
    if (end > packet.length) return undefined;
    return {
      family: 6,
      source: formatAddress(packet.subarray(8, 24)),
      destination: formatAddress(packet.subarray(24, 40)),
      protocol: packet[6]!,
      hopLimit: packet[7]!,
      payload: packet.subarray(IPV6_HEADER, end),
    };
  }
  return undefined;
}

// ---------------------------------------------------------------- ICMP / ICMPv6 echo

export interface IcmpEchoOptions {
  source: string;
  destination: string;
  identifier: number;
  sequence: number;
  payload?: Uint8Array;
  hopLimit?: number;
}

export interface IcmpEcho {
  family: IpFamily;
  kind: "request" | "reply";
  source: string;
  destination: string;
  identifier: number;
  sequence: number;
  payload: Uint8Array;
  hopLimit: number;
}

function buildEcho(kind: "request" | "reply", options: IcmpEchoOptions): Uint8Array {
  const source = parseAddress(options.source);
  const destination = parseAddress(options.destination);
  const family = familyOf(source);
  const data = options.payload ?? new Uint8Array(0);
  const icmp = new Uint8Array(8 + data.length);
  const view = new DataView(icmp.buffer);
  if (family === 4) icmp[0] = kind === "request" ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY;
  else icmp[0] = kind === "request" ? ICMPV6_ECHO_REQUEST : ICMPV6_ECHO_REPLY;
  view.setUint16(4, options.identifier & 0xffff);
  view.setUint16(6, options.sequence & 0xffff);
  icmp.set(data, 8);
  const protocol = family === 4 ? PROTO_ICMP : PROTO_ICMPV6;
  const partial =
    family === 4 ? 0 : pseudoHeaderSum(source, destination, PROTO_ICMPV6, icmp.length);
  view.setUint16(2, internetChecksum(icmp, partial));
  return buildIp(source, destination, protocol, icmp, options.hopLimit ?? DEFAULT_HOP_LIMIT);
}

/** An ICMP (IPv4) or ICMPv6 (IPv6) echo request; the family follows the addresses. */
export function buildEchoRequest(options: IcmpEchoOptions): Uint8Array {
  return buildEcho("request", options);
}

export function buildEchoReply(options: IcmpEchoOptions): Uint8Array {
  return buildEcho("reply", options);
}

/** Parses an ICMP/ICMPv6 echo request or reply, verifying every checksum; undefined otherwise. */
export function parseEcho(packet: Uint8Array): IcmpEcho | undefined {
  const ip = parseIp(packet);
  if (!ip || ip.payload.length < 8) return undefined;
  const icmp = ip.payload;
  let kind: IcmpEcho["kind"];
  if (ip.family === 4) {
    if (ip.protocol !== PROTO_ICMP || icmp[1] !== 0) return undefined;
    if (icmp[0] === ICMP_ECHO_REQUEST) kind = "request";
    else if (icmp[0] === ICMP_ECHO_REPLY) kind = "reply";
    else return undefined;
    if (internetChecksum(icmp) !== 0) return undefined;
  } else {
    if (ip.protocol !== PROTO_ICMPV6 || icmp[1] !== 0) return undefined;
    if (icmp[0] === ICMPV6_ECHO_REQUEST) kind = "request";
    else if (icmp[0] === ICMPV6_ECHO_REPLY) kind = "reply";
    else return undefined;
    const partial = pseudoHeaderSum(
      parseAddress(ip.source),
      parseAddress(ip.destination),
      PROTO_ICMPV6,
      icmp.length,
    );
    if (internetChecksum(icmp, partial) !== 0) return undefined;
  }
  const view = new DataView(icmp.buffer, icmp.byteOffset, icmp.byteLength);
  return {
    family: ip.family,
    kind,
    source: ip.source,
    destination: ip.destination,
    identifier: view.getUint16(4),
    sequence: view.getUint16(6),
    payload: icmp.slice(8),
    hopLimit: ip.hopLimit,
  };
}

/**
 * The reply to an ICMP/ICMPv6 echo request (addresses swapped, same identifier, sequence and
 * data), or undefined when `packet` is not a valid echo request. `accept` may restrict which
 * destinations are answered (e.g. only the tunnel's own addresses).
 */
export function answerEcho(
  packet: Uint8Array,
  accept: (destination: string) => boolean = () => true,
): Uint8Array | undefined {
  const echo = parseEcho(packet);
  if (echo?.kind !== "request" || !accept(echo.destination)) return undefined;
  return buildEchoReply({
    source: echo.destination,
    destination: echo.source,
    identifier: echo.identifier,
    sequence: echo.sequence,
    payload: echo.payload,
  });
}

// ---------------------------------------------------------------- UDP

export interface UdpOptions {
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
  hopLimit?: number;
}

export interface UdpPacket {
  family: IpFamily;
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
}

/** A UDP datagram in IPv4 or IPv6 (by the addresses), checksum always set. */
export function buildUdp(options: UdpOptions): Uint8Array {
  const source = parseAddress(options.source);
  const destination = parseAddress(options.destination);
  const udp = new Uint8Array(8 + options.payload.length);
  const view = new DataView(udp.buffer);
  view.setUint16(0, options.sourcePort);
  view.setUint16(2, options.destinationPort);
  view.setUint16(4, udp.length);
  udp.set(options.payload, 8);
  const checksum = internetChecksum(
    udp,
    pseudoHeaderSum(source, destination, PROTO_UDP, udp.length),
  );
  // A computed 0 is sent as 0xffff: 0 means "no checksum" (and is invalid in IPv6).
  view.setUint16(6, checksum === 0 ? 0xffff : checksum);
  return buildIp(source, destination, PROTO_UDP, udp, options.hopLimit ?? DEFAULT_HOP_LIMIT);
}

/** Parses a UDP datagram, verifying its checksum (optional only in IPv4); undefined otherwise. */
export function parseUdp(packet: Uint8Array): UdpPacket | undefined {
  const ip = parseIp(packet);
  if (!ip || ip.protocol !== PROTO_UDP || ip.payload.length < 8) return undefined;
  const udp = ip.payload;
  const view = new DataView(udp.buffer, udp.byteOffset, udp.byteLength);
  const length = view.getUint16(4);
  if (length < 8 || length > udp.length) return undefined;
  const datagram = udp.subarray(0, length);
  const checksum = view.getUint16(6);
  if (checksum !== 0 || ip.family === 6) {
    const partial = pseudoHeaderSum(
      parseAddress(ip.source),
      parseAddress(ip.destination),
      PROTO_UDP,
      length,
    );
    if (internetChecksum(datagram, partial) !== 0) return undefined;
  }
  return {
    family: ip.family,
    source: ip.source,
    destination: ip.destination,
    sourcePort: view.getUint16(0),
    destinationPort: view.getUint16(2),
    payload: datagram.slice(8),
  };
}

/** The echo of a UDP datagram (addresses and ports swapped, same payload), or undefined. */
export function answerUdpEcho(
  packet: Uint8Array,
  accept: (destination: string, port: number) => boolean = () => true,
): Uint8Array | undefined {
  const udp = parseUdp(packet);
  if (!udp || !accept(udp.destination, udp.destinationPort)) return undefined;
  return buildUdp({
    source: udp.destination,
    destination: udp.source,
    sourcePort: udp.destinationPort,
    destinationPort: udp.sourcePort,
    payload: udp.payload,
  });
}
