import { defineProject } from "vitest/config";

// Tests that measure latency against targets run last and alone, after every other project has
// finished, so the rest of the suite does not load the machine while they measure.
export default defineProject({
  test: {
    name: "@wiregate/test (timing)",
    include: ["collision-real.test.ts"],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    globalSetup: ["./global-setup.ts"],
    sequence: { groupOrder: 2 },
  },
});
