import { fileURLToPath } from "node:url";
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

/**
 * xterm.js creates `<style>` elements for its computed styles, which the page's policy refuses
 * (`style-src 'self'`): each becomes src/ssh/adopted-style.ts's constructed style sheet. If xterm
 * changes so that none is found, the build fails instead of shipping a terminal without styles.
 */
function xtermWithoutInlineStyles(): Plugin {
  const shim = fileURLToPath(new URL("./src/ssh/adopted-style.ts", import.meta.url));
  const pattern = /([\w$.]+)\.createElement\("style"\)/g;
  return {
    name: "wiregate-xterm-without-inline-styles",
    enforce: "pre",
    transform(code, id) {
      if (!id.replace(/\\/g, "/").endsWith("@xterm/xterm/lib/xterm.mjs")) return null;
      const count = code.match(pattern)?.length ?? 0;
      if (count !== 3) {
        this.error(`xterm.mjs changed: expected 3 createElement("style") calls, found ${count}`);
      }
      return {
        code: `import { adoptedStyle as __wiregateAdoptedStyle } from ${JSON.stringify(shim)};\n${code.replace(pattern, "__wiregateAdoptedStyle($1)")}`,
        map: null,
      };
    },
  };
}

/**
 * @microsoft/dev-tunnels-ssh picks Web Crypto in a browser and requires its Node.js algorithms
 * (node:crypto, node-rsa) only where there is none: in the page those are never reached, so they
 * are not bundled.
 */
function sshWithoutNode(): Plugin {
  const empty = "\0wiregate-ssh-node-algorithms";
  const duplex =
    '({ Duplex: class Duplex { constructor() { throw new Error("Node.js streams are not available in the page"); } } })';
  return {
    name: "wiregate-ssh-without-node",
    enforce: "pre",
    resolveId(source, importer) {
      const from = importer?.replace(/\\/g, "/") ?? "";
      if (
        from.includes("/@microsoft/dev-tunnels-ssh/algorithms/") &&
        source.startsWith("./node/")
      ) {
        return empty;
      }
      return null;
    },
    load(id) {
      return id === empty ? "module.exports = {};" : null;
    },
    transform(code, id) {
      const file = id.replace(/\\/g, "/");
      if (!/\/@microsoft\/dev-tunnels-ssh\/(sshStream|secureStream)\.js$/.test(file)) return null;
      if (!code.includes('require("stream")')) this.error(`${file} changed: no require("stream")`);
      return { code: code.replace('require("stream")', duplex), map: null };
    },
  };
}

// `npm run dev`: the page is served by Vite; the relay URL is entered on the Connect screen
// (or given as ?relay=…), so no proxy is needed — WebTransport and its WebSocket fallback are
// cross-origin capable.
export default defineConfig({
  base: "./",
  build: { target: "es2022", sourcemap: true, chunkSizeWarningLimit: 1024 },
  plugins: [withoutPolyfillProbe(), xtermWithoutInlineStyles(), sshWithoutNode()],
  worker: { format: "es", plugins: () => [withoutPolyfillProbe()] },
  // Pre-bundled dependencies skip plugins: build the library with the rest so the probe goes.
  optimizeDeps: { exclude: ["@fails-components/webtransport", "@xterm/xterm"] },
  server: { host: "127.0.0.1" },
});
