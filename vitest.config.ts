import { defineConfig } from "vitest/config";

// One run over every workspace: each project uses its own directory's defaults.
export default defineConfig({
  test: {
    projects: ["packages/*", "tools/*", "apps/*", "test"],
    reporters: ["default"],
  },
});
