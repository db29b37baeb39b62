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

/** The first connect waits for the load; a chunk that never arrives must not hold it forever. */
const LOAD_TIMEOUT_MS = 10_000;

async function loadSodium() {
  // Its own chunk, fetched by the worker only: the page's first load does not wait for it.
  const sodium = (await import("libsodium-wrappers")).default;
  await sodium.ready;
  return sodium;
}

export async function loadTunnelCrypto(): Promise<TunnelCrypto> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not loaded within ${LOAD_TIMEOUT_MS / 1000} s`)),
      LOAD_TIMEOUT_MS,
    );
  });
  try {
    const sodium = await Promise.race([loadSodium(), timeout]);
    return {
      backend: withSodiumAead(sodium),
      detail: "libsodium (WebAssembly) for ChaCha20-Poly1305, noble for X25519 and BLAKE2s",
    };
  } catch (error) {
    return {
      backend: nobleCrypto,
      detail: `noble (JavaScript) only: libsodium's WebAssembly did not load (${(error as Error).message})`,
    };
  } finally {
    clearTimeout(timer);
  }
}
