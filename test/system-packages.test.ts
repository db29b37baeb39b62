/**
 * `npm test` on a machine without the system tools: one message naming every missing tool and the
 * command that installs them, and a non-zero exit before any test runs
 * (scripts/install-system-packages.sh --check, the first step of `npm test`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "./helpers/command.js";

const root = join(import.meta.dirname, "..");
const script = join(root, "scripts/install-system-packages.sh");

describe("system packages check", () => {
  it("names every missing tool and the one command that installs them, and fails", async () => {
    // A PATH with nothing on it: every tool outside sbin is missing.
    const result = await runCommand("/bin/bash", [script, "--check"], {
      env: { PATH: "/nonexistent" },
      allowFailure: true,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^The tests need system tools that are missing: /);
    for (const tool of ["chromium", "wireguard-go", "wg", "tshark", "ping", "certutil"])
      expect(result.stderr.split("\n")[0]!.split(/[ ,:()]+/)).toContain(tool);
    expect(result.stderr).toContain("sudo bash scripts/install-system-packages.sh");
    expect(result.stderr.match(/^The tests need/gm)).toHaveLength(1);
  });

  it("passes on this machine, where the suite runs", async () => {
    const result = await runCommand("bash", [script, "--check"], { allowFailure: true });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("is the first step of npm test, and what CI installs with", () => {
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(manifest.scripts.test).toMatch(/^bash scripts\/install-system-packages\.sh --check && /);
    expect(readFileSync(join(root, ".ci/run"), "utf8")).toContain(
      "bash scripts/install-system-packages.sh\n",
    );
  });
});
