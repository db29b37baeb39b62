import { appendFileSync } from "node:fs";
import { leakLogPath } from "./slots.js";

/**
 * Per-process registry of things a test created outside the process (namespaces, daemons, files).
 * Each entry knows how to remove itself synchronously, so it can still run from `process.on("exit")`
 * or a fatal signal when a test forgot to stop it or the worker is being killed.
 */
export interface Cleanup {
  readonly description: string;
  readonly cleanupSync: () => void;
  /** Normal to find at exit (e.g. a temp file kept for the test to read); not reported. */
  readonly expected?: boolean;
}

const live = new Set<Cleanup>();
let hooked = false;

export function register(entry: Cleanup): () => void {
  live.add(entry);
  hookProcessExit();
  return () => {
    live.delete(entry);
  };
}

/** Removes everything still registered; returns what a test should have stopped itself. */
export function cleanupAllSync(): string[] {
  const leaked: string[] = [];
  for (const entry of [...live].reverse()) {
    live.delete(entry);
    let outcome = entry.description;
    try {
      entry.cleanupSync();
    } catch (error) {
      outcome += ` (cleanup failed: ${(error as Error).message})`;
    }
    if (!entry.expected) leaked.push(outcome);
  }
  return leaked;
}

export function registeredCount(): number {
  return live.size;
}

function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    report(cleanupAllSync(), "at exit");
  });
  for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      report(cleanupAllSync(), `on ${name}`);
      // Let the signal do what it would have done without us.
      process.removeListener(name, onSignal);
      process.kill(process.pid, name);
    };
    process.on(name, onSignal);
  }
}

function report(leaked: readonly string[], when: string): void {
  if (leaked.length === 0) return;
  const lines = leaked.map((description) => `${description} (pid ${process.pid}, ${when})`);
  process.stderr.write(
    `[wiregate test] removed what a test did not stop:\n  ${lines.join("\n  ")}\n`,
  );
  // The run's global teardown collects these, so a leak fails the run even from a worker.
  try {
    appendFileSync(leakLogPath(), `${lines.join("\n")}\n`);
  } catch {
    // Reporting must never keep the cleanup from finishing.
  }
}
