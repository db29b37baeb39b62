import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The WebTransport library reports the (expected) absence of the HTTP/3 add-on on the console.
    onConsoleLog: (log) => !/http3|quiche/i.test(log),
  },
});
