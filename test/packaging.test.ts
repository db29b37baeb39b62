/**
 * Every publishable workspace packs what its package.json promises (README, the MIT licence, every
 * export and its types, every command), and the commands work from the repository root after
 * `npm install`.
 */
import { readdirSync, readFileSync } from "node:fs";
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
  license?: string;
  private?: boolean;
  bin?: Record<string, string>;
  exports?: Record<string, { types: string; default: string }>;
}

/** Every path a manifest points at, as `npm pack` names them (no leading "./"). */
function promisedFiles(manifest: Manifest): string[] {
  const files = ["README.md", "LICENSE", "package.json"];
  for (const target of Object.values(manifest.exports ?? {}))
    files.push(target.types, target.default);
  files.push(...Object.values(manifest.bin ?? {}));
  return files.map((f) => f.replace(/^\.\//, ""));
}

/** The root and every workspace's package.json. */
function manifests(): string[] {
  const dirs = ["."];
  for (const pattern of (
    JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      workspaces: string[];
    }
  ).workspaces) {
    if (!pattern.endsWith("/*")) dirs.push(pattern);
    else {
      const parent = pattern.slice(0, -2);
      for (const entry of readdirSync(join(root, parent), { withFileTypes: true }))
        if (entry.isDirectory()) dirs.push(`${parent}/${entry.name}`);
    }
  }
  return dirs.map((dir) => join(dir, "package.json"));
}

describe("packaging", () => {
  it("every package.json says MIT, and each published LICENSE is the root's", () => {
    for (const file of manifests()) {
      const manifest = JSON.parse(readFileSync(join(root, file), "utf8")) as Manifest;
      expect(manifest.license, file).toBe("MIT");
    }
    const licence = readFileSync(join(root, "LICENSE"), "utf8");
    expect(licence).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} Wiregate contributors\n/);
    for (const dir of PUBLISHED)
      expect(readFileSync(join(root, dir, "LICENSE"), "utf8"), `${dir}/LICENSE`).toBe(licence);
  });

  it.each(PUBLISHED)("%s packs its README, LICENSE, exports, types and commands", async (dir) => {
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
