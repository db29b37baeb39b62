import { defineConfig } from "vitest/config";

// `npm run bench -w @wiregate/netstack`: the send side in virtual time, printed, not asserted.
export default defineConfig({
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["bench/**/*.bench.ts"],
    testTimeout: 600_000,
  },
});
