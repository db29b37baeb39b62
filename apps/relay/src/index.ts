export { ENV_PREFIX, helpText, loadConfig } from "./cli-options.js";
export * from "./config.js";
export { DemoPeer, type DemoPeerOptions } from "./demo-peer.js";
export { ensureDevCertificate, generateDevCertificate, hexHash } from "./dev-cert.js";
export { createLogger, type Logger, silentLogger } from "./logger.js";
export { RelayCounters } from "./metrics.js";
export { Relay, type RelayAddress, type RelayOptions } from "./relay.js";
export type { CaptureSink } from "./session.js";
export { UpstreamRegistry } from "./upstreams.js";
