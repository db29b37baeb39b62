import type { DecodedFrame } from "./decoded.js";
import { decodeIPv4, decodeIPv6, type IpContext } from "./ip.js";
import { findNetworkLayer, type NetworkSlice } from "./link.js";
import { FragmentReassembler, type ReassemblyOptions, type ReassemblyStats } from "./reassembly.js";
import type { PacketRecord } from "./records.js";

export interface UdpDecoderOptions extends ReassemblyOptions {
  /** Rebuild fragmented IPv4/IPv6 datagrams (default true); otherwise report them as fragments. */
  reassemble?: boolean;
}

/**
 * Decodes frames of any supported link type down to UDP, keeping fragment-reassembly state
 * across frames. Use one decoder per capture, fed in capture order.
 */
export class UdpDecoder {
  private readonly slice: NetworkSlice = { version: 4, start: 0 };
  private readonly context: IpContext;

  constructor(options: UdpDecoderOptions = {}) {
    this.context = {
      reassembler: options.reassemble === false ? undefined : new FragmentReassembler(options),
      time: 0,
    };
  }

  /** Reassembly counters (all zero when reassembly is off). */
  get reassemblyStats(): ReassemblyStats {
    return this.context.reassembler?.stats ?? { completed: 0, expired: 0, evicted: 0, rejected: 0 };
  }

  decode(linkType: number, data: Uint8Array, time = 0): DecodedFrame {
    const problem = findNetworkLayer(linkType, data, this.slice);
    if (problem !== undefined) return problem;
    this.context.time = time;
    return this.slice.version === 4
      ? decodeIPv4(data, this.slice.start, this.context)
      : decodeIPv6(data, this.slice.start, this.context);
  }

  decodeRecord(record: PacketRecord): DecodedFrame {
    return this.decode(record.linkType, record.data, record.time);
  }
}

const statelessSlice: NetworkSlice = { version: 4, start: 0 };
const statelessContext: IpContext = { reassembler: undefined, time: 0 };

/** Decodes one frame on its own: fragments are reported (`kind: "fragment"`), not rebuilt. */
export function decodeFrame(linkType: number, data: Uint8Array): DecodedFrame {
  const problem = findNetworkLayer(linkType, data, statelessSlice);
  if (problem !== undefined) return problem;
  return statelessSlice.version === 4
    ? decodeIPv4(data, statelessSlice.start, statelessContext)
    : decodeIPv6(data, statelessSlice.start, statelessContext);
}
