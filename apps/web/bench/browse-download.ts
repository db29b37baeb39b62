/**
 * The Browse path as the benches drive it: a tab under the page's Service Worker fetches bytes
 * from the demo peer's site through the tunnel, while the first tab pings through the tunnel.
 */
import type { BrowserContext, Page } from "playwright-core";
import { browseOriginOf, openTab } from "../test/stack.js";

/**
 * Shows the Browse screen of `page` (a page at `browsePageUrl`), whose Go registers the demo
 * peer's origin and its Service Worker, then opens a tab on that origin. `legacyOrigin`: for an
 * older build's page (before each tunnel server had an origin of its own), the origin it came from
 * (with a trailing slash): the tab opens under its /browse/ path instead.
 */
export async function browseTab(
  context: BrowserContext,
  page: Page,
  legacyOrigin?: string,
): Promise<Page> {
  await openTab(page, "Browse");
  await page.getByRole("button", { name: "Go" }).click();
  const tab = await context.newPage();
  if (legacyOrigin) await tab.goto(`${legacyOrigin}browse/10.99.0.1/`);
  else {
    await page.getByTestId("browse-origin").getByText("wiregate.localhost").waitFor();
    await tab.goto(`${browseOriginOf(page.url(), "v4-80-10-99-0-1")}/`);
  }
  return tab;
}

/** In a Browse tab: fetches `bytes` from the demo peer's /bytes, reading the body as it comes. */
export function download(
  tab: Page,
  bytes: number,
): Promise<{ length: number; seconds: number; status: number }> {
  return tab.evaluate(async (n) => {
    const start = performance.now();
    const response = await fetch(`/bytes?n=${n}`);
    const reader = response.body!.getReader();
    let length = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      length += value.length;
    }
    return { length, seconds: (performance.now() - start) / 1000, status: response.status };
  }, bytes);
}

/**
 * Pings the demo peer every `intervalMs` from the Tools screen of `page` while `work` runs: the
 * round trips answered (ascending, ms) and the pings lost.
 */
export async function pingsDuring<T>(
  page: Page,
  intervalMs: number,
  work: () => Promise<T>,
): Promise<{ result: T; rtts: number[]; lost: number }> {
  await openTab(page, "Tools");
  await page.getByLabel("Destination").fill("10.99.0.1");
  await page.getByLabel("Count").fill("10000");
  await page.getByLabel("Interval (ms)").fill(String(intervalMs));
  await page.getByLabel("Payload (bytes)", { exact: true }).fill("56");
  await page.getByRole("button", { name: "Start ping" }).click();
  const result = await work();
  const stop = page.getByRole("button", { name: "Stop", exact: true });
  if (await stop.isEnabled()) await stop.click();
  else
    process.stdout.write(
      `ping had ended: ${await page.getByTestId("ping-log").textContent()} ${await page.getByTestId("ping-summary").textContent()}\n`,
    );
  const rtts = (await page.locator('[data-testid="ping-log"] li.reply').allTextContents())
    .map((line) => Number(/time=([\d.]+) ms/.exec(line)?.[1]))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  const lost = await page.locator('[data-testid="ping-log"] li.lost').count();
  return { result, rtts, lost };
}
