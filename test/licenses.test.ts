/**
 * The licence table in docs/licenses.md is what scripts/licenses.mjs reads from node_modules now,
 * and a runtime dependency with a licence outside the allowed list is noticed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCommand } from "./helpers/command.js";

const root = join(import.meta.dirname, "..");

interface Entry {
  name: string;
  version: string;
  licence: string;
}
const licenses = (await import(pathToFileURL(join(root, "scripts/licenses.mjs")).href)) as {
  collect(top?: string): Entry[];
  allowed(expression: string): boolean;
};

const temp = mkdtempSync(join(tmpdir(), "wiregate-licences-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

function writeJson(path: string, value: unknown): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, JSON.stringify(value));
}

describe("runtime dependency licences", () => {
  it("docs/licenses.md is current and every licence is an expected one", async () => {
    // Exits non-zero, naming the package, on a stale table or an unexpected licence.
    await runCommand("node", [join(root, "scripts/licenses.mjs"), "--check"], { cwd: root });
  });

  it("notices a new dependency with an unexpected licence, also one pulled in indirectly", () => {
    writeJson(join(temp, "package.json"), { workspaces: ["packages/*"] });
    writeJson(join(temp, "packages/a/package.json"), {
      name: "@wiregate/a",
      dependencies: { friendly: "^1.0.0" },
      devDependencies: { "dev-only": "^1.0.0" },
    });
    writeJson(join(temp, "node_modules/friendly/package.json"), {
      name: "friendly",
      version: "1.0.0",
      license: "MIT",
      dependencies: { copyleft: "^2.0.0" },
    });
    writeJson(join(temp, "node_modules/copyleft/package.json"), {
      name: "copyleft",
      version: "2.0.0",
      license: "GPL-3.0-only",
    });
    writeJson(join(temp, "node_modules/dev-only/package.json"), {
      name: "dev-only",
      version: "1.0.0",
      license: "AGPL-3.0-only",
    });
    const entries = licenses.collect(temp);
    expect(entries.map((e) => `${e.name} ${e.licence}`)).toEqual([
      "copyleft GPL-3.0-only",
      "friendly MIT",
    ]);
    expect(entries.filter((e) => !licenses.allowed(e.licence)).map((e) => e.name)).toEqual([
      "copyleft",
    ]);
  });

  it("allows an OR expression when one choice is allowed, not an AND", () => {
    expect(licenses.allowed("(BSD-3-Clause OR GPL-2.0)")).toBe(true);
    expect(licenses.allowed("GPL-2.0")).toBe(false);
    expect(licenses.allowed("(MIT AND GPL-3.0-only)")).toBe(false);
  });
});
