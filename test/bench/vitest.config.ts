import { defineConfig } from "vitest/config";

// `npm run bench -w @wiregate/test`: long measurements against real peers, not a test suite.
export default defineConfig({
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["bench/**/*.bench.ts"],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    globalSetup: ["./global-setup.ts"],
  },
});
