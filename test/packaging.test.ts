/**
 * Every publishable workspace packs what its package.json promises (README, every export and its
 * types, every command), and the commands work from the repository root after `npm install`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "./helpers/command.js";

const root = join(import.meta.dirname, "..");
const PUBLISHED = [
  "packages/core",
  "packages/capture",
  "packages/packets",
  "packages/relay-protocol",
  "packages/analysis",
  "apps/relay",
  "tools/replay",
];

interface Manifest {
  name: string;
  private?: boolean;
  bin?: Record<string, string>;
  exports?: Record<string, { types: string; default: string }>;
}

/** Every path a manifest points at, as `npm pack` names them (no leading "./"). */
function promisedFiles(manifest: Manifest): string[] {
  const files = ["README.md", "package.json"];
  for (const target of Object.values(manifest.exports ?? {}))
    files.push(target.types, target.default);
  files.push(...Object.values(manifest.bin ?? {}));
  return files.map((f) => f.replace(/^\.\//, ""));
}

describe("packaging", () => {
  it.each(PUBLISHED)("%s packs its README, exports, types and commands", async (dir) => {
    const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as Manifest;
    expect(manifest.private, `${manifest.name} must be publishable`).toBeUndefined();
    const { stdout } = await runCommand(
      "npm",
      ["pack", "--dry-run", "--json", "--ignore-scripts"],
      {
        // Run from `npm test -w …`, npm's workspace settings would leak into this npm.
        env: Object.fromEntries(
          Object.entries(process.env).filter(([k]) => !/^npm_config_workspace/i.test(k)),
        ),
        cwd: join(root, dir),
      },
    );
    const packed = new Set(
      (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path),
    );
    for (const file of promisedFiles(manifest)) expect(packed, `${dir}: ${file}`).toContain(file);
    // Sources, tests and benches stay out of the tarball.
    expect([...packed].filter((f) => /^(src|test|bench)\//.test(f))).toEqual([]);
  });

  it.each([
    ["wiregate-replay", /^wiregate-replay — decode, analyze/],
    ["wiregate-relay", /^Usage: wiregate-relay/],
  ])("npx %s works from the repository root", async (command, firstLine) => {
    const { stdout } = await runCommand("npx", ["--no-install", command, "--help"], { cwd: root });
    expect(stdout).toMatch(firstLine);
  });
});
