/**
 * docs/architecture.md against the code: the module table names every source file (and no file
 * that does not exist), and the handshake state diagram has exactly the transitions the engine
 * allows. Adding a state, a transition or a module without the document fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HANDSHAKE_TRANSITIONS } from "../src/handshake-state.js";
import { TIMERS } from "../src/timers.js";

const root = new URL("../src/", import.meta.url);
const doc = readFileSync(new URL("../../../docs/architecture.md", import.meta.url), "utf8");

function sourceFiles(): string[] {
  return (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.replaceAll("\\", "/"))
    .sort();
}

describe("docs/architecture.md", () => {
  it("lists every module of packages/core/src, and only those", () => {
    const table = doc.slice(
      doc.indexOf("| Module | Job |"),
      doc.indexOf("### One peer's handshake"),
    );
    const named = [...table.matchAll(/`([\w/-]+\.ts)`/g)].map((m) => m[1]!);
    expect([...new Set(named)].sort()).toEqual(sourceFiles());
  });

  it("draws exactly the handshake transitions the engine allows", () => {
    const diagram = /```mermaid\nstateDiagram-v2\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(diagram, "a mermaid stateDiagram-v2 block").toBeDefined();
    const drawn = [...diagram!.matchAll(/^\s*([\w-]+) --> ([\w-]+)/gm)]
      .map((m) => `${m[1]} -> ${m[2]}`)
      .sort();
    const allowed = Object.entries(HANDSHAKE_TRANSITIONS)
      .flatMap(([from, tos]) => tos.map((to) => `${from} -> ${to}`))
      .sort();
    expect(drawn).toEqual(allowed);
    expect(diagram).toContain("[*] --> idle");
  });

  it("names the timers in the order they run", () => {
    const sentence = doc.slice(doc.indexOf("Timers run in a fixed order"));
    const named = [...sentence.matchAll(/`(\w+)`/g)].map((m) => m[1]).slice(0, TIMERS.length);
    expect(named).toEqual([...TIMERS]);
  });
});
