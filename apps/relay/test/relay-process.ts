/** The built relay CLI in a child process, for tests that attack it from outside. */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { RelayAddress } from "../src/relay.js";
import { type Echo, startEcho, TOKEN } from "./helpers.js";

export const root = fileURLToPath(new URL("..", import.meta.url));

/** Lines of a child's stdout, one at a time. */
export function lines(child: ChildProcess): AsyncIterator<string> {
  let buffer = "";
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    queue.push(...parts);
    wake?.();
  });
  return {
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      return { value: queue.shift()!, done: false };
    },
  };
}

export async function lineMatching(
  iterator: AsyncIterator<string>,
  test: (line: string) => boolean,
): Promise<string> {
  for (;;) {
    const { value } = await iterator.next();
    if (test(value)) return value;
  }
}

export interface RelayProcess {
  child: ChildProcess;
  address: RelayAddress;
  /** Where it keeps its development certificate (`cert.pem`). */
  certDir: string;
  hashHex: string;
  lines: AsyncIterator<string>;
  /** The "relay listening" line. */
  listening: Record<string, unknown>;
  /** Resident set size of the relay process, in bytes (from /proc). */
  rss(): number;
  stop(): void;
}

/** Starts `dist/cli.js` (HTTP/2 and HTTP/3) with a token, a fresh certificate directory, no demo peer unless `--demo`, and the given flags. */
export async function spawnRelay(
  flags: string[],
  env: Record<string, string> = { WIREGATE_RELAY_TOKENS: TOKEN },
): Promise<RelayProcess> {
  const certDir = mkdtempSync(join(tmpdir(), "wiregate-relay-proc-"));
  const child = spawn(
    process.execPath,
    [
      join(root, "dist/cli.js"),
      "--port=0",
      "--ops-port=0",
      `--cert-dir=${certDir}`,
      ...(flags.includes("--demo") ? [] : ["--no-demo"]),
      ...flags,
    ],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const output = lines(child);
  const listening = JSON.parse(await lineMatching(output, (l) => l.includes('"relay listening"')));
  const hashHex: string = listening.certificateSha256;
  // HTTP/3 must come up unless turned off: a missing add-on fails loudly, never skips.
  if (!flags.includes("--no-http3") && !listening.transports.includes("http3")) {
    child.kill("SIGKILL");
    throw new Error(`HTTP/3 did not come up: ${listening.http3}`);
  }
  return {
    child,
    certDir,
    hashHex,
    lines: output,
    listening,
    address: {
      host: "127.0.0.1",
      port: Number(new URL(listening.url).port),
      url: listening.url,
      certificateSha256: Uint8Array.from(Buffer.from(hashHex, "hex")),
      opsPort: Number(new URL(listening.ops).port),
      transports: listening.transports,
      ...(listening.localHttp ? { localHttpUrl: listening.localHttp } : {}),
      upstreamReceiveBuffer: listening.upstreamReceiveBuffer,
    },
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kib = /^VmRSS:\s+(\d+) kB/m.exec(status);
      if (!kib) throw new Error("no VmRSS for the relay process");
      return Number(kib[1]) * 1024;
    },
    stop() {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

export const MiB = 1024 * 1024;

/**
 * Relay processes forwarding to one UDP echo upstream named "echo", for a test file: registers the
 * hooks that start the echo, and stops each file's relays after every test.
 */
export function relayProcesses(): {
  relayWith(flags: string[]): Promise<RelayProcess>;
  /** Tests stop these (e.g. attacker processes) after each test too. */
  running: { stop(): void }[];
  echo(): Echo;
} {
  const running: { stop(): void }[] = [];
  let echo: Echo | undefined;
  beforeAll(async () => {
    echo = await startEcho();
  });
  afterEach(() => {
    for (const item of running.splice(0)) item.stop();
  });
  afterAll(async () => {
    await echo?.close();
  });
  return {
    running,
    echo: () => echo!,
    async relayWith(flags) {
      const relay = await spawnRelay([`--upstream=echo=127.0.0.1:${echo!.port}`, ...flags]);
      running.push(relay);
      return relay;
    },
  };
}
