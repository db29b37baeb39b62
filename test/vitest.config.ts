import { defineProject } from "vitest/config";

// These tests start real daemons, namespaces and browsers: allow them seconds, not milliseconds.
export default defineProject({
  test: {
    name: "@wiregate/test",
    include: ["**/*.test.ts"],
    // Latency measurements run in their own project, last and alone (vitest.timing.config.ts).
    exclude: ["**/node_modules/**", "collision-real.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    globalSetup: ["./global-setup.ts", "../apps/relay/test/build-relay.ts"],
  },
});
