/**
 * The part of a browser page the browser tests use, so that one test runs in every browser of
 * `BROWSERS` (browser.ts). It is a subset of Playwright's API: Playwright's own objects (Chromium)
 * satisfy it as they are, and firefox.ts implements it over Puppeteer's WebDriver BiDi (Firefox).
 * A test that needs more than this adds it here and to firefox.ts, or says why it is
 * Chromium-only.
 */

/** Playwright's ARIA roles that the tests look up (the adapter knows these). */
export type TestRole = "button" | "tab" | "textbox" | "checkbox" | "link" | "heading";

export interface FilePayload {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** Playwright's `Locator`, with its auto-waiting actions and its reads. */
export interface TestLocator {
  click(): Promise<void>;
  fill(value: string): Promise<void>;
  setInputFiles(files: string | string[] | FilePayload): Promise<void>;
  selectOption(value: string): Promise<string[]>;
  textContent(): Promise<string | null>;
  inputValue(): Promise<string>;
  getAttribute(name: string): Promise<string | null>;
  count(): Promise<number>;
  allTextContents(): Promise<string[]>;
  waitFor(options?: { state?: "attached" | "visible"; timeout?: number }): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: as Playwright's, whose element types differ
  evaluate<R>(fn: (element: any, arg: any) => R | Promise<R>, arg?: unknown): Promise<R>;
  first(): TestLocator;
  last(): TestLocator;
  nth(index: number): TestLocator;
  locator(selector: string): TestLocator;
  getByTestId(testId: string): TestLocator;
  getByRole(role: TestRole, options?: { name?: string; exact?: boolean }): TestLocator;
  getByLabel(text: string, options?: { exact?: boolean }): TestLocator;
  /** The document of an `<iframe>` (Playwright's `FrameLocator`). */
  contentFrame(): TestFrame;
}

/** Playwright's `FrameLocator`: look-ups inside a frame. */
export interface TestFrame {
  locator(selector: string): TestLocator;
  getByTestId(testId: string): TestLocator;
}

export interface ConsoleEntry {
  type(): string;
  text(): string;
}

export interface TestRequest {
  url(): string;
}

/** Typing, as Playwright's `page.keyboard`: text as input (like a paste), and key presses. */
export interface TestKeyboard {
  insertText(text: string): Promise<void>;
  /** A key, or modifiers and a key: "Enter", "Escape", "Control+C". */
  press(key: string): Promise<void>;
}

export interface TestPage {
  readonly keyboard: TestKeyboard;
  goto(url: string): Promise<unknown>;
  reload(): Promise<unknown>;
  url(): string;
  title(): Promise<string>;
  // biome-ignore lint/suspicious/noExplicitAny: as Playwright's, which unboxes handles
  evaluate<R>(fn: (arg: any) => R | Promise<R>, arg?: unknown): Promise<R>;
  locator(selector: string): TestLocator;
  getByTestId(testId: string): TestLocator;
  getByRole(role: TestRole, options?: { name?: string; exact?: boolean }): TestLocator;
  getByLabel(text: string, options?: { exact?: boolean }): TestLocator;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  /**
   * Makes this the browser's active tab. Firefox throttles a background tab's rendering, and an
   * action that waits for it (a click scrolls the element into view and waits for an
   * IntersectionObserver) can wait minutes: a test that switches between pages brings each to the
   * front before acting on it.
   */
  bringToFront(): Promise<void>;
  on(event: "console", listener: (message: ConsoleEntry) => void): unknown;
  on(event: "pageerror", listener: (error: Error) => void): unknown;
  context(): TestContext;
  close(): Promise<void>;
}

export interface TestContext {
  newPage(): Promise<TestPage>;
  /**
   * The next page of this context: one of `newPage()`, or a tab a page opened (`window.open`, a
   * link to `_blank`), once it has left `about:blank` for the address it was opened with.
   * Call it before the action that opens the tab (`Promise.all([waitForEvent("page"), click()])`).
   */
  waitForEvent(event: "page", options?: { timeout?: number }): Promise<TestPage>;
  close(): Promise<void>;
  /** Every request of the context's pages. */
  on(event: "request", listener: (request: TestRequest) => void): unknown;
}

export interface TestBrowser {
  newContext(options?: {
    /** Accept the relay's self-signed development certificate for the page itself. */
    ignoreHTTPSErrors?: boolean;
    viewport?: { width: number; height: number };
  }): Promise<TestContext>;
  close(): Promise<void>;
  version(): string;
}
