// The portable backends only: the node:crypto backend lives behind the package's "./node" entry
// so browser bundles never see a node: import.
export { nobleCrypto } from "./noble.js";
export { type SodiumAead, withSodiumAead } from "./sodium.js";
export type { CryptoBackend, RandomSource } from "./types.js";
