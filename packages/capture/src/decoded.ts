/** Results of decoding a frame down to UDP. */

export interface Endpoint {
  /** Dotted quad or RFC 5952 IPv6 text. */
  address: string;
  port: number;
}

export interface UdpDatagram {
  kind: "udp";
  ipVersion: 4 | 6;
  src: Endpoint;
  dst: Endpoint;
  /** UDP payload, trimmed to the UDP length (a view into the frame, or into a reassembled copy). */
  payload: Uint8Array;
  /** True when the datagram was rebuilt from IP fragments (this frame carried the last one). */
  reassembled: boolean;
}

/** Why a frame yields no UDP datagram. */
export interface NotUdp {
  /**
   * - `not-udp`: a valid frame of something else (ARP, TCP, ESP, an unsupported link type …)
   * - `fragment`: an IP fragment, held for reassembly or (without reassembly) not decodable alone
   * - `malformed`: lengths or headers are inconsistent, or the capture cut the packet short
   */
  kind: "not-udp" | "fragment" | "malformed";
  reason: string;
}

export type DecodedFrame = UdpDatagram | NotUdp;

export function notUdp(reason: string): NotUdp {
  return { kind: "not-udp", reason };
}

export function malformed(reason: string): NotUdp {
  return { kind: "malformed", reason };
}
