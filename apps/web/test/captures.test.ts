/**
 * The capture viewer, in each browser: the collision-stall capture loaded through the file input is analysed in
 * the page, drawn with the collision and the stall marked, and its verdicts and report are the
 * ones `wiregate-replay analyze` prints for the same file. No tunnel is opened (the viewer reads a
 * file in the page), so the carriage does not matter and no case runs per carriage.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSERS,
  newContext,
  open,
  openTab,
  pageUrl,
  type RunningRelay,
  screenshot,
  startRelay,
  type TestPage,
  useBrowser,
  watchErrors,
} from "./stack.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const CAPTURES = join(repo, "..", "shared", "captures", "collision-stall");
const CAPTURE = join(CAPTURES, "sim-nopsk-retry-run02.pcapng");
const KEYLOG = join(CAPTURES, "keylog.txt");
const CLI = join(repo, "tools", "replay", "dist", "cli.js");

async function cli(...args: string[]): Promise<string> {
  if (!existsSync(CLI)) throw new Error("wiregate-replay is not built: run `npm run build`");
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, "analyze", ...args]);
  return stdout.trimEnd();
}

let relay: RunningRelay;

beforeAll(async () => {
  if (!existsSync(CAPTURE)) throw new Error(`capture not found: ${CAPTURE}`);
  relay = await startRelay([]);
});

afterAll(async () => {
  await relay?.stop();
});

describe.each(BROWSERS)("in %s", (name) => {
  const b = useBrowser(name);
  let page: TestPage;

  beforeAll(async () => {
    page = await (await newContext(b())).newPage();
  });

  describe("capture viewer", () => {
    it("marks the collision and the stall, with the verdicts of wiregate-replay analyze", async () => {
      const errors = watchErrors(page);
      await open(page, pageUrl(relay.address, {}));
      await openTab(page, "Captures");
      await page.getByLabel("Capture (pcap or pcapng)").setInputFiles(CAPTURE);
      const report = page.getByTestId("report");
      await report.waitFor({ state: "attached", timeout: 20_000 });

      const expected = await cli(CAPTURE);
      expect(await report.textContent()).toBe(expected);
      const verdicts = expected
        .split("\n")
        .filter((line) => line.startsWith("  verdict: "))
        .map((line) => line.slice("  verdict: ".length));
      expect(verdicts.length).toBeGreaterThan(0);
      expect(await page.getByTestId("verdicts").locator("li").allTextContents()).toEqual(verdicts);

      const diagram = page.locator("svg.sequence");
      expect(await diagram.locator('[data-mark="collision"]').count()).toBe(1);
      expect(await diagram.locator('[data-mark="stall"]').textContent()).toBe("stalled5.01 s");
      // Both crossed initiations, the retry, and the two responses nobody used.
      expect(await diagram.locator("g.message.initiation.crossed").count()).toBe(2);
      expect(await diagram.locator("g.message.initiation.retry").count()).toBe(1);
      expect(await diagram.locator("g.message.response.unused").count()).toBe(2);
      await page.locator("details:has([data-testid=report])").evaluate((d) => {
        (d as HTMLDetailsElement).open = false;
      });
      await screenshot(page, "captures");

      // With the key log the decoder learns the static keys; the page still agrees with the CLI.
      await page.getByLabel("Key log (optional)").setInputFiles(KEYLOG);
      const withKeys = await cli(CAPTURE, "--keylog", KEYLOG);
      await expect.poll(() => report.textContent()).toBe(withKeys);
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    });
  });

  describe("capture viewer with logs", () => {
    const LOG_A = join(CAPTURES, "wgA.log");
    const LOG_B = join(CAPTURES, "wgB.log");

    it("draws both logs beside the capture's frames and from the logs alone, with the CLI's verdicts", async () => {
      const errors = watchErrors(page);
      await open(page, pageUrl(relay.address, {}));
      await openTab(page, "Captures");
      // Logs first (no capture yet): the analysis from the logs alone.
      await page.getByLabel("Logs (optional, one per side)").setInputFiles([LOG_A, LOG_B]);
      const logVerdicts = page.getByTestId("log-verdicts");
      await logVerdicts.waitFor({ state: "attached", timeout: 20_000 });
      const expected = (await cli("--log", `wgA=${LOG_A}`, "--log", `wgB=${LOG_B}`))
        .split("\n")
        .filter((line) => line.startsWith("  verdict: "))
        .map((line) => line.slice("  verdict: ".length));
      expect(await logVerdicts.locator("li").allTextContents()).toEqual(expected);
      const fromLogs = page.locator("svg.sequence.from-logs");
      expect(await fromLogs.locator('[data-mark="collision"]').count()).toBe(1);
      expect(await fromLogs.locator('[data-mark="stall"]').textContent()).toBe("stalled5.01 s");
      expect(await fromLogs.locator("g.log-line").count()).toBe(13);

      // Then the capture: each log line beside its frame, nothing disagreeing.
      await page.getByLabel("Capture (pcap or pcapng)").setInputFiles(CAPTURE);
      const alignments = page.getByTestId("alignments");
      await alignments.waitFor({ state: "attached", timeout: 20_000 });
      const items = await alignments.locator("li").allTextContents();
      expect(items).toHaveLength(2);
      for (const item of items)
        expect(item).toMatch(
          /is 10\.250\.0\.[12]:5182[01]; clock [+−]0\.000\d+ s from the capture's; 6 lines on their frames$/,
        );
      const notes = page.locator("svg.sequence:not(.from-logs) .log-note");
      expect(await notes.count()).toBe(6);
      expect(await notes.first().textContent()).toMatch(/wg[AB] line 1: initiation-sent/);
      await screenshot(page, "captures-with-logs");
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    });
  });
});
