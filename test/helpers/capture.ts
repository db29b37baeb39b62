import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited, signal, sleep } from "./command.js";
import type { Namespace } from "./namespace.js";
import { register } from "./registry.js";

export interface CaptureOptions {
  /** Capture inside this namespace; the root namespace when omitted. */
  readonly ns?: Namespace;
  readonly iface: string;
  /** Capture (BPF) filter, e.g. "udp". */
  readonly filter?: string;
  /** Where to write the pcapng. Default: a temp file, removed when the process exits. */
  readonly file?: string;
}

export interface Capture {
  readonly file: string;
  /**
   * Stops tshark cleanly (SIGINT, so the file is complete), waits for it, and returns the file
   * path. dumpcap drops what is still in the kernel's capture buffer when told to stop, so stop()
   * first waits `settleMs` (default 500) for the last packets to be written.
   */
  stop(options?: { settleMs?: number }): Promise<string>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** Measured: packets from the last ~100 ms before SIGINT can be missing; 500 ms never lost any. */
const SETTLE_MS = 500;

/** Starts `tshark -i <iface> -w <file>` and resolves once it is really capturing. */
export async function startCapture(options: CaptureOptions): Promise<Capture> {
  const file = options.file ?? temporaryCaptureFile();
  const args = ["-i", options.iface, "-w", file];
  if (options.filter !== undefined) args.push("-f", options.filter);
  // Own process group, so an emergency cleanup can take tshark's dumpcap child down with it.
  const spawnOptions: SpawnOptions = { stdio: ["ignore", "ignore", "pipe"], detached: true };
  const tshark = options.ns
    ? options.ns.spawn("tshark", args, spawnOptions)
    : spawn("tshark", args, spawnOptions);
  const unregister = register({
    description: `tshark capture on ${options.iface}`,
    cleanupSync: () => {
      if (tshark.pid !== undefined) signal(-tshark.pid, "SIGKILL");
    },
  });
  try {
    await waitUntilCapturing(tshark);
  } catch (error) {
    if (tshark.pid !== undefined) signal(-tshark.pid, "SIGKILL");
    unregister();
    throw error;
  }

  let stopping: Promise<string> | undefined;
  return {
    file,
    stop: (stopOptions = {}) => {
      stopping ??= (async () => {
        await sleep(stopOptions.settleMs ?? SETTLE_MS);
        if (tshark.pid !== undefined) signal(tshark.pid, "SIGINT");
        const stopped = await Promise.race([
          exited(tshark).then(() => true),
          sleep(STOP_TIMEOUT_MS).then(() => false),
        ]);
        if (!stopped && tshark.pid !== undefined) signal(-tshark.pid, "SIGKILL");
        await exited(tshark);
        unregister();
        if (!stopped) throw new Error(`tshark on ${options.iface} ignored SIGINT and was killed`);
        return file;
      })();
      return stopping;
    },
  };
}

function temporaryCaptureFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "wgt-capture-"));
  // Not a leak when still there at exit: the caller may read the file until then.
  register({
    description: `capture directory ${dir}`,
    expected: true,
    cleanupSync: () => rmSync(dir, { recursive: true, force: true }),
  });
  return join(dir, "capture.pcapng");
}

/**
 * With -w, tshark logs "Capture started." once dumpcap has opened the interface and applied the
 * filter ("Capturing on '<iface>'" comes earlier, before a bad filter is rejected).
 */
function waitUntilCapturing(tshark: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(
      () => fail(new Error(`tshark did not start capturing within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: string) => {
      stderr += chunk;
      if (stderr.includes("Capture started")) finish();
    };
    const onExit = () => fail(new Error(`tshark exited before capturing: ${stderr.trim()}`));
    const finish = () => {
      clearTimeout(timer);
      tshark.off("exit", onExit);
      // Keep draining stderr so tshark never blocks on a full pipe.
      tshark.stderr?.off("data", onData).resume();
      resolve();
    };
    const fail = (error: Error) => {
      clearTimeout(timer);
      tshark.stderr?.off("data", onData);
      tshark.off("exit", onExit);
      reject(error);
    };
    tshark.stderr?.setEncoding("utf8").on("data", onData);
    tshark.once("exit", onExit);
  });
}
