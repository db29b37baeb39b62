import { nobleCrypto, nobleOpenWithNonce, nobleSealWithNonce } from "../src/crypto/noble.js";
import { nodeCrypto, nodeOpenWithNonce, nodeSealWithNonce } from "../src/crypto/node.js";
import { sodiumOpenWithNonce, sodiumSealWithNonce, withSodiumAead } from "../src/crypto/sodium.js";
import type { CryptoBackend } from "../src/crypto/types.js";

/** libsodium's WebAssembly, loaded once (the web worker loads it the same way before its engine). */
export const sodium = (await import("libsodium-wrappers")).default;
await sodium.ready;

/** Every backend with its raw-nonce AEAD helpers, for `describe.each`. */
export interface BackendUnderTest {
  name: string;
  backend: CryptoBackend;
  sealWithNonce: typeof nobleSealWithNonce;
  openWithNonce: typeof nobleOpenWithNonce;
}

export const backendsUnderTest: BackendUnderTest[] = [
  {
    name: "noble",
    backend: nobleCrypto,
    sealWithNonce: nobleSealWithNonce,
    openWithNonce: nobleOpenWithNonce,
  },
  {
    name: "node",
    backend: nodeCrypto,
    sealWithNonce: nodeSealWithNonce,
    openWithNonce: nodeOpenWithNonce,
  },
  {
    name: "noble+libsodium",
    backend: withSodiumAead(sodium),
    sealWithNonce: (...args) => sodiumSealWithNonce(sodium, ...args),
    openWithNonce: (...args) => sodiumOpenWithNonce(sodium, ...args),
  },
  {
    // The demo peer's: node for X25519 and BLAKE2s, libsodium for the AEAD.
    name: "node+libsodium",
    backend: withSodiumAead(sodium, nodeCrypto),
    sealWithNonce: (...args) => sodiumSealWithNonce(sodium, ...args),
    openWithNonce: (...args) => sodiumOpenWithNonce(sodium, ...args),
  },
];

export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

export const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
