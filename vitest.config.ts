import { defineConfig } from "vitest/config";

// One run over every workspace: each project uses its own directory's config. The browser tests
// (apps/web) run next, alone; the latency measurements (test/vitest.timing.config.ts) run last.
export default defineConfig({
  test: {
    projects: [
      "packages/*",
      "tools/*",
      "apps/*",
      "test/vitest.config.ts",
      "test/vitest.timing.config.ts",
    ],
    reporters: ["default"],
  },
});
