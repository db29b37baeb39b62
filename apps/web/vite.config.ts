import { defineConfig, type Plugin } from "vite";

/**
 * The WebTransport library's browser entry opens a WebTransport session to
 * https://example.com:23333 when it is imported, to probe for `serverCertificateHashes`. The page
 * contacts no host but its relay, and it does not use the library's polyfill (it tries native
 * WebTransport itself), so the probe is cut out at build time. If the library changes, the build
 * fails here instead of shipping the probe.
 */
function withoutPolyfillProbe(): Plugin {
  const start = "if (globalThis.WebTransport) {";
  const end = "export class WebTransportPonyfill";
  return {
    name: "wiregate-without-polyfill-probe",
    enforce: "pre",
    transform(code, id) {
      if (
        !id
          .replace(/\\/g, "/")
          .endsWith("@fails-components/webtransport/lib/webtransport.browser.js")
      )
        return null;
      const from = code.indexOf(start);
      const to = code.indexOf(end);
      if (from < 0 || to < from || !code.slice(from, to).includes("example.com:23333")) {
        this.error("webtransport.browser.js changed: its probe of example.com:23333 was not found");
      }
      return {
        code: `${code.slice(0, from)}// (probe removed by vite.config.ts)\n${code.slice(to)}`,
        map: null,
      };
    },
  };
}

// `npm run dev`: the page is served by Vite; the relay URL is entered on the Connect screen
// (or given as ?relay=…), so no proxy is needed — WebTransport and its WebSocket fallback are
// cross-origin capable.
export default defineConfig({
  base: "./",
  build: { target: "es2022", sourcemap: true, chunkSizeWarningLimit: 1024 },
  plugins: [withoutPolyfillProbe()],
  worker: { format: "es", plugins: () => [withoutPolyfillProbe()] },
  // Pre-bundled dependencies skip plugins: build the library with the rest so the probe goes.
  optimizeDeps: { exclude: ["@fails-components/webtransport"] },
  server: { host: "127.0.0.1" },
});
