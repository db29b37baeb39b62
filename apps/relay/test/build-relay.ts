/**
 * Compiles the relay CLI (tests run it from dist/). A Vitest global setup: one build per run,
 * before any test starts, because a build per test file rewrote dist/ while relays that other
 * files had started were still loading it.
 */

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export function setup(): void {
  execFileSync(join(root, "../../node_modules/.bin/tsc"), [
    "-p",
    join(root, "tsconfig.build.json"),
  ]);
}
