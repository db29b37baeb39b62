import { buildUdp, type HeaderOptions } from "@wiregate/packets";
import type { Endpoint } from "./decoded.js";

export interface UdpPacketToBuild extends HeaderOptions {
  src: Endpoint;
  dst: Endpoint;
  payload: Uint8Array;
}

/**
 * Synthesizes an IPv4 or IPv6 packet (by the address family of `src`) carrying one UDP datagram
 * with correct checksums: a LINKTYPE_RAW (101) frame, e.g. for captures of relayed messages.
 */
export function buildUdpPacket({ src, dst, payload, ...header }: UdpPacketToBuild): Uint8Array {
  return buildUdp({
    source: src.address,
    destination: dst.address,
    sourcePort: src.port,
    destinationPort: dst.port,
    data: payload,
    ...header,
  });
}
