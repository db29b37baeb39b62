import { readFileSync, rmSync } from "node:fs";
import { sleep } from "./helpers/command.js";
import { removeLeftovers } from "./helpers/leftovers.js";
import { leakLogPath, listSlots, ownerAlive } from "./helpers/slots.js";

/**
 * Vitest global setup for every workspace whose tests start namespaces, daemons or captures
 * (from another workspace: `globalSetup: ["../../test/global-setup.ts"]`).
 *
 * setup: gives the run one id (workers inherit it through the environment) and removes what
 * crashed earlier runs left behind. teardown: collects what this run's workers had to clean up for
 * tests that did not stop their resources, removes anything still left, and fails the run loudly
 * when there was anything — a test that leaks is a bug.
 */
export function setup(): void {
  process.env.WIREGATE_TEST_RUN_ID ??= `r${Date.now().toString(36)}${process.pid.toString(36)}`;
  const stale = removeLeftovers();
  if (stale.length > 0) {
    console.warn(`[wiregate test] removed leftovers of earlier runs:\n  ${stale.join("\n  ")}`);
  }
}

export async function teardown(): Promise<void> {
  const run = process.env.WIREGATE_TEST_RUN_ID;
  if (run === undefined) return;
  await workersGone(run);
  const leaked = [...takeLeakLog(run), ...removeLeftovers({ finishedRun: run })];
  if (leaked.length > 0) {
    console.error(
      `\n[wiregate test] FAIL: tests left these behind (now removed):\n  ${leaked.join("\n  ")}\n`,
    );
    process.exitCode = 1;
  }
}

/** Workers are being shut down as teardown starts; let their own exit cleanup finish first. */
async function workersGone(run: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  const busy = () => listSlots().some(({ owner }) => owner?.runId === run && ownerAlive(owner));
  while (busy() && Date.now() < deadline) await sleep(50);
}

function takeLeakLog(run: string): string[] {
  const path = leakLogPath(run);
  try {
    const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
    rmSync(path, { force: true });
    return lines;
  } catch {
    return [];
  }
}
