/**
 * Cross-origin frames in either browser: `page.frames()` of Playwright (Chromium) and of
 * puppeteer-core (Firefox ESR over BiDi, the `page` behind firefox.ts's wrapper) both reach frames
 * of another origin, which the common locators (browser-page.ts) cannot enter.
 */
import type { TestPage } from "./browser-page.js";

interface AnyFrame {
  url(): string;
  // biome-ignore lint/suspicious/noExplicitAny: as Playwright's and Puppeteer's
  evaluate(fn: (arg: any) => unknown, arg?: unknown): Promise<unknown>;
}

function frames(page: TestPage): AnyFrame[] {
  const inner = (page as unknown as { page?: { frames(): AnyFrame[] } }).page;
  return (inner ?? (page as unknown as { frames(): AnyFrame[] })).frames();
}

/** The URLs of the page's frames (the main frame first). */
export function frameUrls(page: TestPage): string[] {
  return frames(page).map((f) => f.url());
}

/**
 * Runs `fn(arg)` in the one frame whose URL starts with `prefix` (or passes it), once there is
 * one (waits up to `timeoutMs`); throws if there are several.
 */
export async function evaluateInFrame<R, A = undefined>(
  page: TestPage,
  prefix: string | ((url: string) => boolean),
  fn: (arg: A) => R | Promise<R>,
  arg?: A,
  timeoutMs = 20_000,
): Promise<Awaited<R>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const wanted = typeof prefix === "string" ? (url: string) => url.startsWith(prefix) : prefix;
    const found = frames(page).filter((f) => wanted(f.url()));
    if (found.length > 1) throw new Error(`${found.length} frames at ${prefix}`);
    if (found[0]) {
      try {
        return (await found[0].evaluate(fn as (arg: unknown) => unknown, arg)) as Awaited<R>;
      } catch (e) {
        // A frame navigating away under us: look again.
        if (Date.now() > deadline) throw e;
      }
    } else if (Date.now() > deadline)
      throw new Error(`no frame at ${prefix} (frames: ${frameUrls(page).join(", ")})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
