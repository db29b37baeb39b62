export * from "./allowed-ips.js";
export * from "./anti-replay.js";
export * from "./constants.js";
export * from "./cookie.js";
export * from "./crypto/index.js";
export * from "./deterministic.js";
export * from "./device.js";
export * from "./entropy.js";
export {
  HANDSHAKE_TRANSITIONS,
  type Handshake,
  type HandshakeKind,
} from "./handshake-state.js";
export * from "./ip.js";
export * from "./kdf.js";
export * from "./keylog.js";
export { compareRank, Keypair, type Rank } from "./keypair.js";
export * from "./keys.js";
export * from "./messages.js";
export * from "./noise.js";
export * from "./random-pool.js";
export * from "./runner.js";
export * from "./schedulers.js";
export * from "./tai64n.js";
export { TIMERS, type TimerName } from "./timers.js";
export * from "./trace.js";
export * from "./wg-quick/parser.js";
export * from "./wg-quick/serializer.js";
export * from "./wg-quick/types.js";
export {
  type DnsEntry,
  type EndpointParseResult,
  parseDnsEntry,
  parseEndpoint,
} from "./wg-quick/values.js";
