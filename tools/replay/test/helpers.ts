import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tsharkRows } from "../../../test/helpers/tshark.js";
import { run } from "../src/commands.js";

export const execFileAsync = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
/** The shared captures: `shared/` beside the repository root. */
export const CAPTURES = resolve(here, "../../../../shared/captures");
export const CLI = resolve(here, "../dist/cli.js");

export interface CaptureCase {
  name: string;
  file: string;
  keylogs: string[];
}

/** Every capture file of the shared set, with the key logs of its folder. */
export function captureCases(): CaptureCase[] {
  const cases: CaptureCase[] = [];
  for (const dir of readdirSync(CAPTURES, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const folder = join(CAPTURES, dir.name);
    const files = readdirSync(folder);
    const keylogs = files.filter((f) => f.startsWith("keylog")).map((f) => join(folder, f));
    for (const f of files) {
      if (f.endsWith(".pcap") || f.endsWith(".pcapng")) {
        cases.push({ name: `${dir.name}/${f}`, file: join(folder, f), keylogs });
      }
    }
  }
  return cases;
}

class MemorySink {
  text = "";
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  once(): this {
    return this;
  }
}

/** Runs the CLI in-process. */
export async function runCli(
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new MemorySink();
  const stderr = new MemorySink();
  const code = await run(argv, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** tshark's view: one row of the given fields per WireGuard frame. */
export function tshark(file: string, fields: string[], keylog?: string): Promise<string[][]> {
  return tsharkRows(file, fields, { displayFilter: "wg", ...(keylog ? { keylog } : {}) });
}
