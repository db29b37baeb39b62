import { defineProject } from "vitest/config";

// Its own config, so `vitest run` in this workspace does not pick up the root's project list.
export default defineProject({ test: {} });
