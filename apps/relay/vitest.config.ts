import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests run the relay CLI from dist/: built once, before any of them.
    globalSetup: ["./test/build-relay.ts"],
    // The WebTransport library reports the (expected) absence of the HTTP/3 add-on on the console.
    onConsoleLog: (log) => !/http3|quiche/i.test(log),
  },
});
