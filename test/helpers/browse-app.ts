/**
 * The Browse test app (browse-app-server.mjs) in a namespace: node serves it on the namespace's
 * kernel TCP; every request it gets and every report of its hostile page arrives here as a JSON
 * line, so a test can wait for what the server saw.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Namespace } from "./namespace.js";

const SCRIPT = fileURLToPath(new URL("./browse-app-server.mjs", import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: JSON lines of the server, read by the test
export type AppEntry = Record<string, any>;

export interface BrowseApp {
  child: ChildProcess;
  /** Everything the server logged so far. */
  entries: AppEntry[];
  /** Resolves with the first entry (logged or to come) that `match` accepts. */
  next(match: (entry: AppEntry) => boolean, timeoutMs?: number): Promise<AppEntry>;
  /**
   * Tells the server `command`: "hold" (/hold waits), "release" (answer the held requests, and
   * later ones at once), "close-idle" (close idle keep-alive connections).
   */
  command(command: "hold" | "release" | "close-idle"): Promise<AppEntry>;
  stop(): void;
}

export async function startBrowseApp(
  ns: Namespace,
  appPort: number,
  hostilePort: number,
): Promise<BrowseApp> {
  const child = ns.spawn(process.execPath, [SCRIPT, String(appPort), String(hostilePort)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const entries: AppEntry[] = [];
  const waiters = new Set<{ match: (e: AppEntry) => boolean; resolve: (e: AppEntry) => void }>();
  let buffered = "";
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  child.stdout?.on("data", (d) => {
    buffered += String(d);
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const entry = JSON.parse(buffered.slice(0, nl)) as AppEntry;
      buffered = buffered.slice(nl + 1);
      entries.push(entry);
      for (const waiter of waiters)
        if (waiter.match(entry)) {
          waiters.delete(waiter);
          waiter.resolve(entry);
        }
    }
  });
  const next = (match: (entry: AppEntry) => boolean, timeoutMs = 20_000) => {
    const seen = entries.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<AppEntry>((resolve, reject) => {
      const waiter = { match, resolve };
      waiters.add(waiter);
      setTimeout(() => {
        if (!waiters.delete(waiter)) return;
        reject(new Error(`the app server logged no such entry (stderr: ${stderr.slice(0, 500)})`));
      }, timeoutMs);
    });
  };
  await next((e) => Array.isArray(e.listening), 15_000);
  const command = (command: "hold" | "release" | "close-idle") => {
    const from = entries.length;
    const done = next((e) => e.command === command && entries.indexOf(e) >= from);
    child.stdin?.write(`${command}\n`);
    return done;
  };
  return { child, entries, next, command, stop: () => child.kill() };
}
