/**
 * Network-namespace helpers for interop tests: namespaces on a shared test bridge, and wireguard-go
 * peers running inside them. See ../README.md.
 */
export { createNamespace, type Namespace } from "./namespace.js";
export { BRIDGE, HOST_UNDERLAY, PREFIX, runId } from "./slots.js";
export type { WgDump, WgPeerStatus } from "./wg-dump.js";
export { parseWgDump } from "./wg-dump.js";
export {
  generateKeyPair,
  generatePresharedKey,
  generatePrivateKey,
  type PingResult,
  publicKeyOf,
  startWireGuardPeer,
  type WgPeerConfig,
  type WireGuardPeer,
  type WireGuardPeerOptions,
} from "./wireguard-peer.js";
