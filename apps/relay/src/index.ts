export { openCapture, rotatedName } from "./capture.js";
export { ENV_PREFIX, helpText, loadConfig } from "./cli-options.js";
export * from "./config.js";
export { DemoPeer, type DemoPeerOptions } from "./demo-peer.js";
export {
  DemoPeerThread,
  type DemoPeerThreadOptions,
  type DemoTraceEvent,
} from "./demo-peer-thread.js";
export { ensureDevCertificate, generateDevCertificate, hexHash } from "./dev-cert.js";
export { createLogger, type Logger, silentLogger } from "./logger.js";
export { RelayCounters } from "./metrics.js";
export { Relay, type RelayAddress, type RelayOptions } from "./relay.js";
export * from "./relay-config-parser.js";
export type { CaptureSink } from "./session-types.js";
export { CONTENT_SECURITY_POLICY } from "./static-files.js";
export { type AddressAssigner, UpstreamRegistry } from "./upstreams.js";
