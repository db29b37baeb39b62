// Node-only entry point (`@wiregate/core/node`): things that import node: modules.
export { nodeCrypto } from "./crypto/node.js";
export * from "./node/udp.js";
