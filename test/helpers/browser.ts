import { existsSync } from "node:fs";
import { type Browser, chromium, type LaunchOptions } from "playwright-core";

/** The distribution's Chromium; tests never download a browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

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
  /** Added after the standard flags (e.g. `--ignore-certificate-errors-spki-list=...`). */
  readonly extraArgs?: readonly string[];
  /**
   * Environment of the browser process. Chromium on Linux reads trusted CAs from
   * `$HOME/.pki/nssdb`, so pointing HOME at a temp dir prepared with `certutil` trusts a dev CA.
   */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

/**
 * Launches headless Chromium through playwright-core. Playwright gives every launch a fresh
 * temporary user-data-dir and deletes it on `close()`; call `close()` in `afterAll`/`finally`.
 */
export async function launchBrowser(options: BrowserOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install the Debian package "chromium" (see test/README.md)`,
    );
  }
  const launchOptions: LaunchOptions = {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])],
    timeout: options.timeoutMs ?? 30_000,
  };
  if (options.env !== undefined) launchOptions.env = { ...process.env, ...options.env };
  return chromium.launch(launchOptions);
}
