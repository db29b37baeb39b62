/**
 * What a user does in each real web app (test/helpers/web-apps.ts), written once against the page
 * interface and a base URL, so the same steps run with the app loaded directly from its namespace
 * and through the tunnel: log in, a click that changes the server's state, and the change seen.
 */
import { expect } from "vitest";
import type { TestPage } from "../../../test/helpers/browser-page.js";
import type { WebApps } from "../../../test/helpers/web-apps.js";

/** Jupyter: logs in with the password, opens the notebook, waits for its kernel (a WebSocket). */
export async function jupyterLogin(page: TestPage, base: string, apps: WebApps): Promise<void> {
  const next = encodeURIComponent(`/notebooks/${apps.jupyter.notebook}`);
  await page.goto(`${base}/login?next=${next}`);
  await page.locator("#password_input").fill(apps.jupyter.password);
  await page.locator("#login_submit").click();
  // The kernel's status comes over the kernel's WebSocket: idle means it is connected.
  await page.locator("#kernel_indicator_icon.kernel_idle_icon").waitFor({ timeout: 60_000 });
}

/**
 * Jupyter: runs `print(6*7)` in the first cell (replacing what is there; `tag` in a comment marks
 * this run), sees 42, saves; the server's file has this run's cell and its output.
 */
export async function jupyterRun(page: TestPage, apps: WebApps, tag: string): Promise<void> {
  const source = `print(6*7)  # ${tag}`;
  await page.locator(".cell .CodeMirror").first().click();
  await page.keyboard.press("Control+a");
  await page.keyboard.insertText(source);
  await page.keyboard.press("Shift+Enter");
  await expect
    .poll(() => page.locator(".output_area pre").first().textContent(), { timeout: 60_000 })
    .toBe("42\n");
  await page.keyboard.press("Escape");
  await page.keyboard.press("s");
  await expect
    .poll(
      () => {
        const saved = apps.jupyter.saved() as {
          cells: { source: string | string[]; outputs: { text?: string[] }[] }[];
        };
        const cell = saved.cells[0];
        return cell && [[cell.source].flat().join(""), cell.outputs[0]?.text?.join("")];
      },
      { timeout: 30_000 },
    )
    .toEqual([source, "42\n"]);
}

/** Syncthing: the single-page app renames its device; the server's config.xml has the new name. */
export async function syncthingRename(
  page: TestPage,
  base: string,
  apps: WebApps,
  name: string,
): Promise<void> {
  await page.goto(`${base}/`);
  await expect.poll(() => page.title(), { timeout: 60_000 }).toMatch(/ \| Syncthing$/);
  await page.locator("li.action-menu > a.dropdown-toggle").click();
  await page.locator("a[ng-click='showSettings()']").first().click();
  // The dialog's fields are filled from the config the app fetched: wait for them first.
  await expect
    .poll(() => page.locator("#DeviceName").inputValue(), { timeout: 30_000 })
    .not.toBe("");
  await page.locator("#DeviceName").fill(name);
  await page.locator("#settings button[ng-click='saveSettings()']").click();
  await expect.poll(() => apps.syncthing.deviceName(), { timeout: 30_000 }).toBe(name);
  await expect.poll(() => page.title(), { timeout: 30_000 }).toBe(`${name} | Syncthing`);
}

/** Prometheus: runs the query `up` on its classic page (JSON from /api/v1) and sees the series. */
export async function prometheusQuery(page: TestPage, base: string): Promise<void> {
  await page.goto(`${base}/classic/graph`);
  await page.locator("textarea.expression_input").fill("up");
  await page.locator("input.execute_btn").click();
  await expect
    .poll(() => page.locator(".console_table tbody").first().textContent(), { timeout: 30_000 })
    .toMatch(/up\{instance="127\.0\.0\.1:9090",\s*job="prometheus"\}\s*1/);
}
