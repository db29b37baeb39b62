export {
  type AnalysisResult,
  Analyzer,
  type Collision,
  formatDuration,
  type HandshakeRecord,
  type PairAnalysis,
  type PeerInfo,
  renderAnalysis,
} from "./analyze.js";
export {
  type DecoderOptions,
  WireGuardDecoder,
  wiresharkMessageType,
} from "./decode.js";
export { type DecodedMessage, type MessageType, TYPE_NAMES } from "./decoded-message.js";
export {
  enumerateWireGuardGoCrossing,
  enumerateWiregateCrossing,
  type Interleaving,
  type InterleavingReport,
  renderInterleavings,
} from "./interleave.js";
export { type EphemeralKey, hexOf, KeyMaterial, type StaticKey } from "./keys.js";
export { ALIGN_SLACK_S, alignLog, type LineMatch, type LogAlignment } from "./logs/log-align.js";
export {
  analyzeLogs,
  type LogAnalysisResult,
  type LogCollision,
  type LogPairAnalysis,
  type LogRef,
  renderLogAnalysis,
} from "./logs/log-analysis.js";
export {
  describeReport,
  formatPrecision,
  type LineExample,
  type LogClock,
  type LogEvent,
  type LogEventKind,
  type LogFormat,
  type LogReport,
} from "./logs/log-event.js";
export { LogReader, type LogReaderOptions, type ParsedLog, parseLog } from "./logs/log-reader.js";
export {
  formatWireGuardGoLine,
  formatWireGuardGoLog,
  type GoLogOptions,
  goTimestamp,
  type ModelLogLine,
} from "./logs/wireguard-go-format.js";
export { goPeerName } from "./logs/wireguard-go-log.js";
export {
  FIELD_NAMES,
  fieldGetter,
  fieldValue,
  formatMessageLine,
  hex32,
  tai64nToIso,
  toWiresharkFields,
} from "./message-fields.js";
export {
  type ReplayedMessage,
  type ReplayModel,
  type ReplayOptions,
  type ReplayResult,
  renderReplay,
  replayCapture,
} from "./replay.js";
export type { GoHandshakeState } from "./wireguard-go-handshake.js";
export {
  type GoLogLine,
  type GoPeerOptions,
  type HandshakeJob,
  type JobStep,
  WireGuardGoPeer,
} from "./wireguard-go-peer.js";
export { GO_REKEY_TIMEOUT } from "./wireguard-go-timers.js";
