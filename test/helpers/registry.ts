/**
 * Per-process registry of things a test created outside the process (namespaces, daemons, files).
 * Each entry knows how to remove itself synchronously, so it can still run from `process.on("exit")`
 * or a fatal signal when a test forgot to stop it or the worker is being killed.
 */
export interface Cleanup {
  readonly description: string;
  readonly cleanupSync: () => void;
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

/** Removes everything still registered; returns what had to be removed. */
export function cleanupAllSync(): string[] {
  const removed: string[] = [];
  for (const entry of [...live].reverse()) {
    live.delete(entry);
    try {
      entry.cleanupSync();
      removed.push(entry.description);
    } catch (error) {
      removed.push(`${entry.description} (cleanup failed: ${(error as Error).message})`);
    }
  }
  return removed;
}

export function registeredCount(): number {
  return live.size;
}

function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    cleanupAllSync();
  });
  for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      cleanupAllSync();
      // Let the signal do what it would have done without us.
      process.removeListener(name, onSignal);
      process.kill(process.pid, name);
    };
    process.on(name, onSignal);
  }
}
