import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Several tests run the real tshark, whose start-up alone can take seconds on a busy machine.
    testTimeout: 30_000,
  },
});
