/**
 * The Browse screen, as the tests drive it: show an address, and reach into the frame, which is
 * on another origin than the page (test/helpers/frames.ts).
 */
import { expect } from "vitest";
import { evaluateInFrame } from "../../../test/helpers/frames.js";
import { browseOriginOf, openTab, type TestPage } from "./stack.js";

/** The Browse frame of a page: the page, and the origin it shows (another origin than the page's). */
export interface Shown {
  page: TestPage;
  origin: string;
}

/**
 * Shows `address` on the Browse screen; the frame, on its own origin (by default the one under
 * wiregate.localhost of the page's port).
 */
export async function browse(
  page: TestPage,
  address: string,
  label: string,
  origin = browseOriginOf(page.url(), label),
): Promise<Shown> {
  await openTab(page, "Browse");
  await page.getByRole("textbox", { name: "Web address inside the tunnel" }).fill(address);
  await page.getByRole("button", { name: "Go" }).click();
  await expect
    .poll(() => page.getByTestId("browse-origin").textContent(), { timeout: 20_000 })
    .toBe(`Shown on its own origin: ${origin}`);
  // The frame is another origin: the page cannot look into it, the test can.
  const frame = page.getByTestId("browse-frame");
  await expect
    .poll(() => frame.evaluate((f: HTMLIFrameElement) => f.contentDocument === null), {
      timeout: 20_000,
    })
    .toBe(true);
  return { page, origin };
}

/** Runs `fn` in the Browse frame's document. */
export const inFrame = <R, A = undefined>(shown: Shown, fn: (arg: A) => R | Promise<R>, arg?: A) =>
  evaluateInFrame(
    shown.page,
    (url) => url.startsWith(`${shown.origin}/`) && !url.includes("/__wiregate/"),
    fn,
    arg,
  );

/** Whether every image of the frame loaded (naturalWidth > 0). */
export const imagesLoaded = (shown: Shown) =>
  inFrame(shown, () => {
    const images = [...document.images];
    return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
  });
