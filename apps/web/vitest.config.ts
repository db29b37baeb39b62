import { defineConfig } from "vitest/config";

// Real Chromium against a real relay: one browser per file, seconds not milliseconds.
export default defineConfig({
  test: {
    name: "@wiregate/web",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    // Alone, after the other projects: Chromium drops its connections when the machine's network
    // interfaces change, and the namespace tests of other projects add and remove them.
    sequence: { groupOrder: 1 },
    // The relay's WebTransport library reports the (expected) absence of the HTTP/3 add-on.
    onConsoleLog: (log) => !/http3|quiche/i.test(log),
    globalSetup: ["../../test/global-setup.ts", "../relay/test/build-relay.ts"],
  },
});
