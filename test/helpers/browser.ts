import { existsSync } from "node:fs";
import { type Browser, chromium, type LaunchOptions } from "playwright-core";
import type { TestBrowser } from "./browser-page.js";
import { FIREFOX_PATH, launchFirefox } from "./firefox.js";

export type {
  TestBrowser,
  TestContext,
  TestFrame,
  TestLocator,
  TestPage,
} from "./browser-page.js";

/**
 * Every browser a browser test runs in, in this order: `describe.each(BROWSERS)` (or a loop over
 * it) and `launchBrowser(name)`. Other dimensions of a test (transports, carriages) combine with
 * this one list.
 */
export const BROWSERS = ["chromium", "firefox"] as const;
export type BrowserName = (typeof BROWSERS)[number];

/** The distribution's Chromium; tests never download a browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";
export { FIREFOX_PATH };

/** Headless flags that work in a container as root (see REFERENCE.md). */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface BrowserOptions {
  /** Chromium only: added after the standard flags (e.g. `--ignore-certificate-errors-spki-list=...`). */
  readonly extraArgs?: readonly string[];
  /**
   * Environment of the browser process. Chromium on Linux reads trusted CAs from
   * `$HOME/.pki/nssdb`, so pointing HOME at a temp dir prepared with `certutil` trusts a dev CA.
   */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

/**
 * Launches a headless browser: Chromium through playwright-core (a fresh temporary user-data-dir,
 * deleted on `close()`), Firefox ESR through puppeteer-core over WebDriver BiDi (firefox.ts). Both
 * answer the same page interface (browser-page.ts). Call `close()` in `afterAll`/`finally`.
 */
export async function launchBrowser(
  name: BrowserName = "chromium",
  options: BrowserOptions = {},
): Promise<TestBrowser> {
  const path = name === "chromium" ? CHROMIUM_PATH : FIREFOX_PATH;
  const pkg = name === "chromium" ? "chromium" : "firefox-esr";
  if (!existsSync(path)) {
    throw new Error(
      `${name} not found at ${path}: install the Debian package "${pkg}" (see test/README.md)`,
    );
  }
  if (name === "firefox")
    return launchFirefox({
      ...(options.env ? { env: options.env } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
  return launchChromium(options);
}

/** Chromium with all of Playwright's API, for the tests that need Chromium's own flags. */
export async function launchChromium(options: BrowserOptions = {}): Promise<Browser> {
  const launchOptions: LaunchOptions = {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])],
    timeout: options.timeoutMs ?? 30_000,
  };
  if (options.env !== undefined) launchOptions.env = { ...process.env, ...options.env };
  return chromium.launch(launchOptions);
}
