/**
 * Stopping Service Workers from a test, as a browser stops idle ones (the next event starts the
 * worker again, with none of its memory): in either browser, so a test of a restart does not
 * branch on it. Chromium over DevTools (CDP); Firefox ESR through its Service Worker manager
 * (firefox.ts).
 */
import type { Page } from "playwright-core";
import type { TestPage } from "./browser-page.js";

/** Stops every Service Worker of the page's browser. */
export async function stopServiceWorkers(page: TestPage): Promise<void> {
  const firefox = page as unknown as { stopServiceWorkers?: () => Promise<number> };
  if (firefox.stopServiceWorkers) {
    await firefox.stopServiceWorkers();
    return;
  }
  const chromium = page as unknown as Page;
  const cdp = await chromium.context().newCDPSession(chromium);
  await cdp.send("ServiceWorker.enable");
  await cdp.send("ServiceWorker.stopAllWorkers");
}
