import { defineConfig } from "vitest/config";

// One run over every workspace: each project uses its own directory's config. The latency
// measurements (test/vitest.timing.config.ts) run after everything else, alone.
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
