/**
 * ICMP and ICMPv6: we answer echo requests (RFC 792, RFC 4443 §4.2), report echo replies, and read
 * destination-unreachable errors for the transport that caused them (RFC 1122 §4.2.3.9).
 */
import { buildEcho, echoReply } from "@wiregate/packets";
import type { Sink } from "./events.js";
import { type IpDatagram, PROTO_ICMP, PROTO_TCP, parseIpPacket } from "./ip.js";

export interface QuotedTransport {
  protocol: number;
  /** Our side (the quoted packet's source). */
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  seq: number;
}

/** Handles one ICMP message addressed to us; returns the quoted TCP segment of an error, if any. */
export function receiveIcmp(d: IpDatagram, sink: Sink): QuotedTransport | undefined {
  const body = d.packet.subarray(d.offset);
  if (body.length < 8) {
    sink.stats.malformed++;
    return undefined;
  }
  const type = body[0]!;
  const v4 = d.protocol === PROTO_ICMP;
  if (type === (v4 ? 8 : 128)) {
    const reply = echoReply(d.packet);
    if (reply) sink.packets.push(reply);
    return undefined;
  }
  if (type === (v4 ? 0 : 129)) {
    sink.events.push({
      type: "echo-reply",
      from: d.source,
      id: (body[4]! << 8) | body[5]!,
      sequence: (body[6]! << 8) | body[7]!,
      data: body.slice(8),
    });
    return undefined;
  }
  if (type === (v4 ? 3 : 1)) return quoted(d, body.subarray(8), sink);
  return undefined;
}

function quoted(d: IpDatagram, inner: Uint8Array, sink: Sink): QuotedTransport | undefined {
  // The quote is usually truncated, so its IP total length cannot be checked: read the header only.
  const version = inner.length > 0 ? inner[0]! >> 4 : 0;
  const header = version === 4 ? (inner[0]! & 0x0f) * 4 : 40;
  if ((version !== 4 && version !== 6) || inner.length < header + 8) return undefined;
  const copy = inner.slice(0, header);
  if (version === 4) copy.set([0, header], 2);
  else copy.set([0, 0], 4);
  const parsed = parseIpPacket(version === 4 ? withChecksum(copy) : copy);
  if (!parsed.ok) return undefined;
  const q = parsed.datagram;
  const protocol = version === 4 ? inner[9]! : inner[6]!;
  sink.events.push({ type: "unreachable", from: d.source, to: q.destination, protocol });
  if (protocol !== PROTO_TCP) return undefined;
  const t = inner.subarray(header);
  return {
    protocol,
    local: q.source,
    localPort: (t[0]! << 8) | t[1]!,
    remote: q.destination,
    remotePort: (t[2]! << 8) | t[3]!,
    seq: ((t[4]! << 24) | (t[5]! << 16) | (t[6]! << 8) | t[7]!) >>> 0,
  };
}

/** The quoted IPv4 header with a recomputed checksum, so the shared parser accepts it. */
function withChecksum(h: Uint8Array): Uint8Array {
  h[10] = 0;
  h[11] = 0;
  h[6] = 0; // ignore the quoted fragment bits: only addresses and ports matter here
  h[7] = 0;
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += (h[i]! << 8) | h[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return h;
}

export function echoRequest(
  source: string,
  destination: string,
  id: number,
  sequence: number,
  data: Uint8Array,
): Uint8Array {
  return buildEcho({ source, destination, id, sequence, data });
}
