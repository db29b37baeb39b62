export { formatIPv4, formatIPv6 } from "./address.js";
export { buildUdpPacket, type UdpPacketToBuild } from "./build.js";
export type { DecodedFrame, Endpoint, NotUdp, UdpDatagram } from "./decoded.js";
export { decodeFrame, UdpDecoder, type UdpDecoderOptions } from "./decoder.js";
export { CaptureError, type CaptureErrorCode } from "./errors.js";
export {
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
} from "./link.js";
export { readWireGuardMessages } from "./messages.js";
export { DEFAULT_LIMITS, type ReaderLimits } from "./parser.js";
export {
  type ByteStreamLike,
  type CaptureFormat,
  CaptureReader,
  type CaptureReaderOptions,
  readCapture,
  readCaptureBytes,
} from "./reader.js";
export {
  FragmentReassembler,
  type ReassemblyOptions,
  type ReassemblyStats,
} from "./reassembly.js";
export {
  type CaptureRecord,
  type ErrorRecord,
  type PacketRecord,
  SECRETS_TYPE_SSH,
  SECRETS_TYPE_TLS,
  SECRETS_TYPE_WIREGUARD,
  type SecretsRecord,
} from "./records.js";
export {
  detectWireGuard,
  extractWireGuard,
  readWireGuardHeader,
  WG_COOKIE_REPLY,
  WG_HANDSHAKE_INITIATION,
  WG_HANDSHAKE_RESPONSE,
  WG_MESSAGE_LENGTHS,
  WG_TRANSPORT_DATA,
  WG_TRANSPORT_MINIMUM_LENGTH,
  type WireGuardDetection,
  type WireGuardHeader,
  type WireGuardMessage,
  type WireGuardMessageType,
} from "./wireguard.js";
export {
  type InterfaceOptions,
  type PacketToWrite,
  PcapngWriter,
  type SectionOptions,
} from "./writer.js";
