import { defineConfig } from "vitest/config";

export default defineConfig({
  // The exhaustive interleaving and interop tests take longer than Vitest's 5 s default.
  test: { testTimeout: 120_000, hookTimeout: 60_000 },
});
