/** Link layers down to the network layer: where the IP packet starts and which version it is. */

import { malformed, type NotUdp, notUdp } from "./decoded.js";

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;

/** BSD address families that mean IPv6 (NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30, Linux 10). */
const AF_INET = 2;
const AF_INET6 = new Set([10, 24, 28, 30]);

/** Filled in by `findNetworkLayer`; reused to avoid an allocation per packet. */
export interface NetworkSlice {
  version: 4 | 6;
  start: number;
}

/** Locates the IP header in a frame; returns why not when there is none. */
export function findNetworkLayer(
  linkType: number,
  data: Uint8Array,
  out: NetworkSlice,
): NotUdp | undefined {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (data.length < 14)
        return malformed(`ethernet: frame of ${data.length} bytes is shorter than 14`);
      return fromEtherType(data, (data[12]! << 8) | data[13]!, 14, "ethernet", out);
    case LINKTYPE_LINUX_SLL:
      if (data.length < 16)
        return malformed(`linux sll: frame of ${data.length} bytes is shorter than 16`);
      return fromEtherType(data, (data[14]! << 8) | data[15]!, 16, "linux sll", out);
    case LINKTYPE_LINUX_SLL2: {
      if (data.length < 20)
        return malformed(`linux sll2: frame of ${data.length} bytes is shorter than 20`);
      return fromEtherType(data, (data[0]! << 8) | data[1]!, 20, "linux sll2", out);
    }
    case LINKTYPE_RAW:
      return fromVersionNibble(data, 0, "raw ip", out);
    case LINKTYPE_IPV4:
      out.version = 4;
      out.start = 0;
      return undefined;
    case LINKTYPE_IPV6:
      out.version = 6;
      out.start = 0;
      return undefined;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      const name = linkType === LINKTYPE_NULL ? "null/loopback" : "openbsd loop";
      if (data.length < 4)
        return malformed(`${name}: frame of ${data.length} bytes is shorter than 4`);
      const big = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
      // NULL stores the family in the capturing host's byte order; LOOP always big-endian.
      const family =
        linkType === LINKTYPE_NULL && big > 0xffff
          ? ((data[3]! << 24) | (data[2]! << 16) | (data[1]! << 8) | data[0]!) >>> 0
          : big;
      if (family === AF_INET) return setSlice(out, 4, 4);
      if (AF_INET6.has(family)) return setSlice(out, 6, 4);
      return notUdp(`${name}: address family ${family} is not IP`);
    }
    default:
      return notUdp(`link type ${linkType} is not supported`);
  }
}

function fromEtherType(
  data: Uint8Array,
  firstEtherType: number,
  firstStart: number,
  name: string,
  out: NetworkSlice,
): NotUdp | undefined {
  let etherType = firstEtherType;
  let start = firstStart;
  // 802.1Q / 802.1ad tags: 2 bytes of tag control, then the next EtherType.
  while (
    etherType === ETHERTYPE_VLAN ||
    etherType === ETHERTYPE_QINQ ||
    etherType === ETHERTYPE_QINQ_OLD
  ) {
    if (data.length < start + 4) return malformed(`${name}: VLAN tag cut short at byte ${start}`);
    etherType = (data[start + 2]! << 8) | data[start + 3]!;
    start += 4;
  }
  return etherTypeAt(etherType, start, name, out);
}

function etherTypeAt(
  etherType: number,
  start: number,
  name: string,
  out: NetworkSlice,
): NotUdp | undefined {
  if (etherType === ETHERTYPE_IPV4) return setSlice(out, 4, start);
  if (etherType === ETHERTYPE_IPV6) return setSlice(out, 6, start);
  if (etherType < 0x0600)
    return notUdp(`${name}: 802.3 length field ${etherType}, not an IP frame`);
  return notUdp(`${name}: EtherType 0x${etherType.toString(16).padStart(4, "0")} is not IP`);
}

function fromVersionNibble(
  data: Uint8Array,
  start: number,
  name: string,
  out: NetworkSlice,
): NotUdp | undefined {
  if (data.length <= start) return malformed(`${name}: empty packet`);
  const version = data[start]! >> 4;
  if (version === 4 || version === 6) return setSlice(out, version, start);
  return malformed(`${name}: IP version ${version} is neither 4 nor 6`);
}

function setSlice(out: NetworkSlice, version: 4 | 6, start: number): undefined {
  out.version = version;
  out.start = start;
  return undefined;
}
