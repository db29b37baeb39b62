/**
 * The unit per-address limits count in: an IPv4 address, or an IPv6 /64 (one subscriber usually
 * holds a whole /64, so counting single IPv6 addresses would give each attacker 2^64 budgets).
 */

import { parseIpv6 } from "@wiregate/core";

/** "127.0.0.1" for IPv4 and IPv4-mapped IPv6; "2001:db8:0:1::/64" for any IPv6 in that /64. */
export function addressGroup(ip: string | undefined): string {
  if (!ip) return "unknown";
  if (ip.toLowerCase().startsWith("::ffff:") && ip.includes(".")) return ip.slice(7);
  if (!ip.includes(":")) return ip;
  const parsed = parseIpv6(ip);
  if (!parsed.ok) return ip;
  const words: string[] = [];
  for (let i = 0; i < 8; i += 2)
    words.push(((parsed.bytes[i]! << 8) | parsed.bytes[i + 1]!).toString(16));
  return `${words.join(":")}::/64`;
}

/** The same for the library's peerAddress, "address:port" (IPv6 unbracketed, "::1:443"). */
export function peerAddressGroup(peer: string | undefined): string {
  if (!peer) return "unknown";
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(peer);
  return addressGroup(bracketed ? bracketed[1]! : peer.replace(/:\d+$/, ""));
}
