import { defineProject } from "vitest/config";

// Its own config, so `vitest run` in this workspace does not pick up the root's project list.
// Everything here runs in virtual time; the timeout only bounds CPU time of the property runs
// on a loaded machine, not anything the tests measure.
export default defineProject({ test: { testTimeout: 120_000 } });
