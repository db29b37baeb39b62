/** Textual IP addresses: dotted quad for IPv4 (cached: it is on the per-packet path), RFC 5952 for IPv6. */

import { formatIpv6 } from "@wiregate/core";

const ipv4Cache = new Map<number, string>();
const IPV4_CACHE_LIMIT = 4096;

/** Formats the 4 bytes at `at`; captures repeat few addresses, so strings are cached. */
export function formatIPv4(bytes: Uint8Array, at: number): string {
  const key =
    ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
  let text = ipv4Cache.get(key);
  if (text === undefined) {
    text = `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
    if (ipv4Cache.size >= IPV4_CACHE_LIMIT) ipv4Cache.clear();
    ipv4Cache.set(key, text);
  }
  return text;
}

/** Formats the 16 bytes at `at` in RFC 5952 form (the core's formatter). */
export function formatIPv6(bytes: Uint8Array, at: number): string {
  return formatIpv6(bytes.subarray(at, at + 16));
}
