/** One-line summaries of the IP packets carried inside the tunnel. */
import { formatIp } from "@wiregate/core";

const v4 = (bytes: Uint8Array, at: number) =>
  formatIp({ family: 4, bytes: bytes.subarray(at, at + 4) });
const v6 = (bytes: Uint8Array, at: number) =>
  formatIp({ family: 6, bytes: bytes.subarray(at, at + 16) });

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

const ICMP4: Record<number, string> = {
  0: "echo reply",
  3: "destination unreachable",
  5: "redirect",
  8: "echo request",
  11: "time exceeded",
};
const ICMP6: Record<number, string> = {
  1: "destination unreachable",
  2: "packet too big",
  3: "time exceeded",
  128: "echo request",
  129: "echo reply",
  133: "router solicitation",
  134: "router advertisement",
  135: "neighbor solicitation",
  136: "neighbor advertisement",
};

function tcpFlags(flags: number): string {
  const names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];
  const set = names.filter((_, i) => flags & (1 << i));
  return set.length ? `[${set.join(",")}]` : "[]";
}

function transport(
  protocol: number,
  bytes: Uint8Array,
  at: number,
  end: number,
  src: string,
  dst: string,
  family: 4 | 6,
): string {
  const available = end - at;
  if (protocol === 6 && available >= 14) {
    return `TCP ${src}:${u16(bytes, at)} → ${dst}:${u16(bytes, at + 2)} ${tcpFlags(bytes[at + 13]!)} len ${Math.max(0, available - (bytes[at + 12]! >> 4) * 4)}`;
  }
  if (protocol === 17 && available >= 8) {
    return `UDP ${src}:${u16(bytes, at)} → ${dst}:${u16(bytes, at + 2)} len ${Math.max(0, u16(bytes, at + 4) - 8)}`;
  }
  if ((protocol === 1 && family === 4) || (protocol === 58 && family === 6)) {
    if (available < 4) return `${family === 4 ? "ICMP" : "ICMPv6"} (truncated) ${src} → ${dst}`;
    const type = bytes[at]!;
    const name = (family === 4 ? ICMP4 : ICMP6)[type] ?? `type ${type} code ${bytes[at + 1]}`;
    const label = family === 4 ? "ICMP" : "ICMPv6";
    const echo = family === 4 ? type === 0 || type === 8 : type === 128 || type === 129;
    if (echo && available >= 8) {
      return `${label} ${name} ${src} → ${dst} id ${u16(bytes, at + 4)} seq ${u16(bytes, at + 6)}`;
    }
    return `${label} ${name} ${src} → ${dst}`;
  }
  return `IPv${family} protocol ${protocol} ${src} → ${dst}`;
}

/**
 * One line, as a capture viewer shows it: "ICMP echo request 10.0.0.1 → 10.0.0.2 id 3 seq 1";
 * "keepalive" for an empty payload. Never throws: truncated or odd packets are described as such.
 */
export function summarizePacket(plain: Uint8Array): string {
  if (plain.length === 0) return "keepalive";
  const version = plain[0]! >> 4;
  if (version === 4 && plain.length >= 20) {
    const headerLength = (plain[0]! & 0x0f) * 4;
    const total = Math.min(u16(plain, 2), plain.length);
    const fragmentOffset = u16(plain, 6) & 0x1fff;
    const src = v4(plain, 12);
    const dst = v4(plain, 16);
    if (fragmentOffset !== 0) return `IPv4 fragment ${src} → ${dst}`;
    return transport(plain[9]!, plain, headerLength, total, src, dst, 4);
  }
  if (version === 6 && plain.length >= 40) {
    const total = Math.min(40 + u16(plain, 4), plain.length);
    return transport(plain[6]!, plain, 40, total, v6(plain, 8), v6(plain, 24), 6);
  }
  return `not an IP packet (${plain.length} bytes)`;
}
