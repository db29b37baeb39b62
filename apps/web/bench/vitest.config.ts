import { defineConfig } from "vitest/config";

// `npm run bench -w @wiregate/web`: one long measurement in real Chromium, not a test suite.
export default defineConfig({
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["bench/**/*.bench.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    onConsoleLog: (log) => !/http3|quiche/i.test(log),
  },
});
