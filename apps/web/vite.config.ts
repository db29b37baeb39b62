import { defineConfig } from "vite";

// `npm run dev`: the page is served by Vite; the relay URL is entered on the Connect screen
// (or given as ?relay=…), so no proxy is needed — WebTransport and its WebSocket fallback are
// cross-origin capable.
export default defineConfig({
  base: "./",
  build: { target: "es2022", sourcemap: true, chunkSizeWarningLimit: 1024 },
  worker: { format: "es" },
  server: { host: "127.0.0.1" },
});
