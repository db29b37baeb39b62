import { formatIPv4, formatIPv6 } from "./address.js";
import { type DecodedFrame, malformed, notUdp } from "./decoded.js";
import type { FragmentReassembler } from "./reassembly.js";
import { decodeUdpHeader } from "./udp.js";

const PROTOCOL_UDP = 17;

/** IPv6 next-header values we walk through or stop at. */
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const ESP = 50;
const AUTHENTICATION = 51;
const NO_NEXT_HEADER = 59;
const DESTINATION_OPTIONS = 60;

const PROTOCOL_NAMES: Record<number, string> = {
  1: "ICMP",
  2: "IGMP",
  6: "TCP",
  47: "GRE",
  50: "ESP",
  58: "ICMPv6",
  132: "SCTP",
};

export interface IpContext {
  /** Rebuilds fragmented datagrams; without it fragments are reported, not decoded. */
  reassembler: FragmentReassembler | undefined;
  /** Capture time in seconds, for reassembly timeouts. */
  time: number;
}

function protocolName(protocol: number): string {
  const name = PROTOCOL_NAMES[protocol];
  return name === undefined ? `protocol ${protocol}` : `${name} (protocol ${protocol})`;
}

export function decodeIPv4(data: Uint8Array, start: number, context: IpContext): DecodedFrame {
  const available = data.length - start;
  if (available < 20) return malformed(`ipv4: header needs 20 bytes, ${available} captured`);
  const version = data[start]! >> 4;
  if (version !== 4) return malformed(`ipv4: version field is ${version}`);
  const headerLength = (data[start]! & 0x0f) * 4;
  const totalLength = (data[start + 2]! << 8) | data[start + 3]!;
  if (headerLength < 20) return malformed(`ipv4: header length ${headerLength} is below 20`);
  if (totalLength < headerLength) {
    return malformed(
      `ipv4: total length ${totalLength} is less than the header length ${headerLength}`,
    );
  }
  if (totalLength > available) {
    return malformed(`ipv4: total length ${totalLength} exceeds the ${available} bytes captured`);
  }
  const protocol = data[start + 9]!;
  const flagsAndOffset = (data[start + 6]! << 8) | data[start + 7]!;
  const more = (flagsAndOffset & 0x2000) !== 0;
  const fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
  const src = formatIPv4(data, start + 12);
  const dst = formatIPv4(data, start + 16);
  const payloadStart = start + headerLength; // options, if any, are skipped
  const end = start + totalLength; // frame padding (e.g. Ethernet minimum size) is dropped
  if (!more && fragmentOffset === 0) {
    if (protocol !== PROTOCOL_UDP) return notUdp(`ipv4: ${protocolName(protocol)}`);
    return decodeUdpHeader(data, payloadStart, end, 4, src, dst, false);
  }
  const id = (data[start + 4]! << 8) | data[start + 5]!;
  const label = `ipv4 ${src} → ${dst} id ${id}`;
  if (context.reassembler === undefined) {
    return {
      kind: "fragment",
      reason: `${label}: fragment at offset ${fragmentOffset} (reassembly off)`,
    };
  }
  const result = context.reassembler.add(
    `4 ${src} ${dst} ${protocol} ${id}`,
    context.time,
    fragmentOffset,
    more,
    data.subarray(payloadStart, end),
    label,
  );
  if (!(result instanceof Uint8Array)) return result;
  if (protocol !== PROTOCOL_UDP) return notUdp(`ipv4: reassembled ${protocolName(protocol)}`);
  return decodeUdpHeader(result, 0, result.length, 4, src, dst, true);
}

export function decodeIPv6(data: Uint8Array, start: number, context: IpContext): DecodedFrame {
  const available = data.length - start;
  if (available < 40) return malformed(`ipv6: header needs 40 bytes, ${available} captured`);
  const version = data[start]! >> 4;
  if (version !== 6) return malformed(`ipv6: version field is ${version}`);
  const payloadLength = (data[start + 4]! << 8) | data[start + 5]!;
  if (payloadLength === 0)
    return malformed("ipv6: payload length 0 (jumbograms are not supported)");
  if (40 + payloadLength > available) {
    return malformed(
      `ipv6: payload length ${payloadLength} exceeds the ${available - 40} bytes captured`,
    );
  }
  const src = formatIPv6(data, start + 8);
  const dst = formatIPv6(data, start + 24);
  return walkIPv6(
    data,
    start + 40,
    start + 40 + payloadLength,
    data[start + 6]!,
    src,
    dst,
    false,
    context,
  );
}

/** Follows the IPv6 extension-header chain from `at` to UDP (or a reason to stop). */
function walkIPv6(
  bytes: Uint8Array,
  at: number,
  end: number,
  nextHeader: number,
  src: string,
  dst: string,
  reassembled: boolean,
  context: IpContext,
): DecodedFrame {
  let p = at;
  let next = nextHeader;
  for (;;) {
    switch (next) {
      case PROTOCOL_UDP:
        return decodeUdpHeader(bytes, p, end, 6, src, dst, reassembled);
      case HOP_BY_HOP:
      case ROUTING:
      case DESTINATION_OPTIONS:
      case AUTHENTICATION: {
        if (end - p < 8) return malformed(`ipv6: extension header ${next} cut short at byte ${p}`);
        const length = next === AUTHENTICATION ? (bytes[p + 1]! + 2) * 4 : (bytes[p + 1]! + 1) * 8;
        if (p + length > end) {
          return malformed(
            `ipv6: extension header ${next} of ${length} bytes runs past the payload`,
          );
        }
        next = bytes[p]!;
        p += length;
        break;
      }
      case FRAGMENT: {
        if (end - p < 8) return malformed(`ipv6: fragment header cut short at byte ${p}`);
        if (reassembled) return malformed("ipv6: fragment header inside a reassembled payload");
        const fragmentNext = bytes[p]!;
        const offsetAndFlags = (bytes[p + 2]! << 8) | bytes[p + 3]!;
        const offset = offsetAndFlags & 0xfff8;
        const more = (offsetAndFlags & 1) !== 0;
        const id =
          ((bytes[p + 4]! << 24) | (bytes[p + 5]! << 16) | (bytes[p + 6]! << 8) | bytes[p + 7]!) >>>
          0;
        p += 8;
        if (offset === 0 && !more) {
          next = fragmentNext; // an atomic fragment (RFC 6946): the packet is whole
          break;
        }
        const label = `ipv6 ${src} → ${dst} id ${id}`;
        if (context.reassembler === undefined) {
          return {
            kind: "fragment",
            reason: `${label}: fragment at offset ${offset} (reassembly off)`,
          };
        }
        // Only the offset-0 fragment's next header counts (RFC 8200 §4.5), hence the tag.
        const result = context.reassembler.add(
          `6 ${src} ${dst} ${id}`,
          context.time,
          offset,
          more,
          bytes.subarray(p, end),
          label,
          fragmentNext,
        );
        if (!(result instanceof Uint8Array)) return result;
        const firstNext = context.reassembler.completedTag;
        return walkIPv6(result, 0, result.length, firstNext, src, dst, true, context);
      }
      case ESP:
        return notUdp("ipv6: ESP (encrypted payload)");
      case NO_NEXT_HEADER:
        return notUdp("ipv6: no next header");
      default:
        return notUdp(`ipv6: ${protocolName(next)}`);
    }
  }
}
