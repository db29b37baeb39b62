import { type DecodedFrame, malformed } from "./decoded.js";

/** Decodes the UDP header at `start`; the IP layer says the datagram ends at `end`. */
export function decodeUdpHeader(
  bytes: Uint8Array,
  start: number,
  end: number,
  ipVersion: 4 | 6,
  srcAddress: string,
  dstAddress: string,
  reassembled: boolean,
): DecodedFrame {
  const available = end - start;
  if (available < 8) return malformed(`udp: header needs 8 bytes, ${available} present`);
  const length = (bytes[start + 4]! << 8) | bytes[start + 5]!;
  if (length < 8) return malformed(`udp: length field ${length} is less than the 8-byte header`);
  if (length > available) {
    return malformed(
      `udp: length field ${length} exceeds the ${available} bytes the IP layer carries`,
    );
  }
  return {
    kind: "udp",
    ipVersion,
    src: { address: srcAddress, port: (bytes[start]! << 8) | bytes[start + 1]! },
    dst: { address: dstAddress, port: (bytes[start + 2]! << 8) | bytes[start + 3]! },
    payload: bytes.subarray(start + 8, start + length),
    reassembled,
  };
}
