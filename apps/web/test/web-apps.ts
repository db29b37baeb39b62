/**
 * What a user does in each real web app (test/helpers/web-apps.ts), written once against an
 * `AppView` (where the app is shown, and how to open one of its paths), so the same steps run with
 * the app loaded directly from its namespace and through the tunnel: log in, a click that changes
 * the server's state, and the change seen.
 */

import { expect } from "vitest";
import type { TestKeyboard, TestLocator, TestPage } from "../../../test/helpers/browser-page.js";
import type { WebApps } from "../../../test/helpers/web-apps.js";
import { encodeTarget } from "../src/browse/target.js";
import { browseOriginOf, open, openTab } from "./stack.js";

/** Where an app is shown: a page of its own, or a frame of the Wiregate page. */
export interface AppView {
  locator(selector: string): TestLocator;
  readonly keyboard: TestKeyboard;
  title(): Promise<string>;
  /** Opens a path of the app (e.g. "/login?next=…"). */
  open(path: string): Promise<void>;
}

/** The app in `page` itself, loaded from `base` (e.g. `http://10.213.0.2:8888`). */
export function pageView(page: TestPage, base: string): AppView {
  return {
    locator: (selector) => page.locator(selector),
    keyboard: page.keyboard,
    title: () => page.title(),
    // (stack.ts's open: again when a namespace test elsewhere changed the network under Chromium)
    open: (path) => open(page, `${base}${path}`),
  };
}

/**
 * Shows `http://<host>:<port><path>` on a connected Wiregate page's Browse screen, then opens it in
 * a new tab (in either browser: the context reports the tab the page opens): that tab, on the
 * target's own origin, and a view of it.
 */
export async function openInBrowseTab(
  page: TestPage,
  host: string,
  port: number,
  path: string,
): Promise<{ tab: TestPage; view: AppView }> {
  // The tab opened before is closed (or behind): this page is acted on now.
  await page.bringToFront();
  await openTab(page, "Browse");
  await page
    .getByRole("textbox", { name: "Web address inside the tunnel" })
    .fill(`http://${host}:${port}${path}`);
  await page.getByRole("button", { name: "Go" }).click();
  // The Browse screen shows this target (not the one before) on its own origin.
  const origin = browseOriginOf(page.url(), encodeTarget({ host, port }));
  await expect
    .poll(() => page.getByTestId("browse-origin").textContent(), { timeout: 20_000 })
    .toBe(`Shown on its own origin: ${origin}`);
  const newTab = page.getByRole("button", { name: "Open in new tab" });
  const [tab] = await Promise.all([page.context().waitForEvent("page"), newTab.click()]);
  expect(new URL(tab.url()).origin).toBe(origin);
  return { tab, view: pageView(tab, origin) };
}

/** Jupyter: logs in with the password, opens the notebook, waits for its kernel (a WebSocket). */
export async function jupyterLogin(view: AppView, apps: WebApps): Promise<void> {
  const next = encodeURIComponent(`/notebooks/${apps.jupyter.notebook}`);
  await view.open(`/login?next=${next}`);
  await view.locator("#password_input").fill(apps.jupyter.password);
  await view.locator("#login_submit").click();
  await jupyterReady(view);
}

/** The notebook's main view is usable: its kernel's status, which comes over its WebSocket, is idle. */
export async function jupyterReady(view: AppView, timeout = 60_000): Promise<void> {
  await view.locator("#kernel_indicator_icon.kernel_idle_icon").waitFor({ timeout });
}

/**
 * Jupyter: runs `print(6*7)` in the first cell (replacing what is there; `tag` in a comment marks
 * this run), sees 42, saves; the server's file has this run's cell and its output.
 */
export async function jupyterRun(
  view: AppView,
  notebook: { saved: () => unknown },
  tag: string,
): Promise<void> {
  const source = `print(6*7)  # ${tag}`;
  await view.locator(".cell .CodeMirror").first().click();
  await view.keyboard.press("Control+a");
  await view.keyboard.insertText(source);
  await view.keyboard.press("Shift+Enter");
  await expect
    .poll(() => view.locator(".output_area pre").first().textContent(), { timeout: 60_000 })
    .toBe("42\n");
  await view.keyboard.press("Escape");
  await view.keyboard.press("s");
  await expect
    .poll(
      () => {
        const saved = notebook.saved() as {
          cells: { source: string | string[]; outputs: { text?: string[] }[] }[];
        };
        const cell = saved.cells[0];
        return cell && [[cell.source].flat().join(""), cell.outputs[0]?.text?.join("")];
      },
      { timeout: 30_000 },
    )
    .toEqual([source, "42\n"]);
}

/**
 * Syncthing's main view is usable: the app has its config and knows which device it runs on (the
 * title names the device; before, it says "(unknown device) | Syncthing", and its settings dialog
 * cannot open).
 */
export async function syncthingReady(view: AppView, timeout = 60_000): Promise<void> {
  await expect
    .poll(() => view.title(), { timeout })
    .toMatch(/^(?!\(unknown device\)).+ \| Syncthing$/);
}

/** Syncthing: the single-page app renames its device; the server's config.xml has the new name. */
export async function syncthingRename(
  view: AppView,
  apps: WebApps,
  name: string,
  /** Whether to open the app first (a tab opened on it from Browse already shows it). */
  open = true,
): Promise<void> {
  if (open) await view.open("/");
  await syncthingReady(view);
  await view.locator("li.action-menu > a.dropdown-toggle").click();
  await view.locator("a[ng-click='showSettings()']").first().click();
  // The dialog is shown (Bootstrap's "in"; it slides in, which the click on Save waits out), its
  // fields filled from the app's config.
  await view.locator("#settings.in").waitFor({ timeout: 30_000 });
  await expect
    .poll(() => view.locator("#DeviceName").inputValue(), { timeout: 30_000 })
    .not.toBe("");
  await view.locator("#DeviceName").fill(name);
  // Save sends the whole config (PUT /rest/config, with the CSRF header) and closes the dialog.
  await view.locator("#settings button[ng-click='saveSettings()']").click();
  await expect.poll(() => apps.syncthing.deviceName(), { timeout: 30_000 }).toBe(name);
  await expect.poll(() => view.locator("#settings.in").count(), { timeout: 30_000 }).toBe(0);
  await expect.poll(() => view.title(), { timeout: 30_000 }).toBe(`${name} | Syncthing`);
}

/** Prometheus's main view is usable: the classic page's expression field is there. */
export async function prometheusReady(view: AppView, timeout = 60_000): Promise<void> {
  await view.locator("textarea.expression_input").waitFor({ timeout });
}

/** Prometheus: runs the query `up` on its classic page (JSON from /api/v1) and sees the series. */
export async function prometheusQuery(view: AppView): Promise<void> {
  await view.open("/classic/graph");
  await prometheusReady(view);
  await view.locator("textarea.expression_input").fill("up");
  await view.locator("input.execute_btn").click();
  await expect
    .poll(() => view.locator(".console_table tbody").first().textContent(), { timeout: 30_000 })
    .toMatch(/up\{instance="127\.0\.0\.1:9090",\s*job="prometheus"\}\s*1/);
}
