// The portable backend only: the node:crypto backend lives behind the package's "./node" entry
// so browser bundles never see a node: import.
export { nobleCrypto } from "./noble.js";
export type { CryptoBackend, RandomSource } from "./types.js";
