/**
 * The tunnel's crypto backend: noble, with the per-packet ChaCha20-Poly1305 on libsodium's
 * WebAssembly (about three times faster per packet in Chromium; docs/performance.md). If the
 * WebAssembly does not load (WebAssembly off, a policy without 'wasm-unsafe-eval'), noble does it
 * all and the page says why.
 */
import { type CryptoBackend, nobleCrypto, withSodiumAead } from "@wiregate/core";

export interface TunnelCrypto {
  backend: CryptoBackend;
  /** What runs the crypto, and why, for the Status screen. */
  detail: string;
}

export async function loadTunnelCrypto(): Promise<TunnelCrypto> {
  try {
    // Its own chunk, fetched by the worker only: the page's first load does not wait for it.
    const sodium = (await import("libsodium-wrappers")).default;
    await sodium.ready;
    return {
      backend: withSodiumAead(sodium),
      detail: "libsodium (WebAssembly) for ChaCha20-Poly1305, noble for X25519 and BLAKE2s",
    };
  } catch (error) {
    return {
      backend: nobleCrypto,
      detail: `noble (JavaScript) only: libsodium's WebAssembly did not load (${(error as Error).message})`,
    };
  }
}
