/**
 * Debian's Firefox ESR driven over WebDriver BiDi by puppeteer-core, behind the common page
 * interface of browser-page.ts. Playwright cannot drive it: its Firefox is a patched build that
 * cannot be downloaded here, and its experimental BiDi mode needs commands Firefox ESR lacks.
 *
 * Look-ups run in the page as Playwright's do (test id, CSS, ARIA role and name, label, n-th,
 * into a same-origin frame) and wait for their element; actions use Puppeteer's element handles,
 * so clicks are real input events.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, {
  type Browser,
  type BrowserContext,
  type ElementHandle,
  type KeyInput,
  type Page,
} from "puppeteer-core";
import type {
  FilePayload,
  TestBrowser,
  TestContext,
  TestFrame,
  TestKeyboard,
  TestLocator,
  TestPage,
  TestRequest,
  TestRole,
} from "./browser-page.js";

/** The distribution's Firefox ESR; tests never download a browser. */
export const FIREFOX_PATH = "/usr/bin/firefox-esr";

/**
 * On top of what Puppeteer and Firefox's remote agent already set for automation (no updates,
 * telemetry, safe browsing, remote settings or first-run pages): nothing of Firefox's own may
 * reach for the network, which here is loopback only.
 */
export const FIREFOX_PREFS: Readonly<Record<string, string | number | boolean>> = {
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "network.dns.disablePrefetch": true,
  "network.predictor.enabled": false,
  "network.prefetch-next": false,
  "network.trr.mode": 5,
  "browser.topsites.contile.enabled": false,
  "browser.newtabpage.activity-stream.feeds.topsites": false,
  "extensions.getAddons.cache.enabled": false,
  "privacy.resistFingerprinting": false,
};

const ACTION_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

type Step =
  | { kind: "css"; selector: string }
  | { kind: "role"; role: TestRole; name?: string; exact?: boolean }
  | { kind: "label"; text: string; exact?: boolean }
  | { kind: "nth"; index: number }
  | { kind: "frame" };

/**
 * Runs in the page: the elements the steps select, in document order. Self-contained, because
 * Puppeteer sends its source.
 */
function resolve(steps: Step[]): Element[] {
  const normalize = (text: string | null | undefined) => (text ?? "").replace(/\s+/g, " ").trim();
  const matches = (actual: string, wanted: string, exact?: boolean) =>
    exact
      ? normalize(actual) === normalize(wanted)
      : normalize(actual).toLowerCase().includes(normalize(wanted).toLowerCase());
  const byIds = (ids: string | null) =>
    (ids ?? "")
      .split(/\s+/)
      .map((id) => normalize(document.getElementById(id)?.textContent))
      .join(" ");
  const implicitRole = (element: Element): string | null => {
    const tag = element.tagName.toLowerCase();
    const type = (element.getAttribute("type") ?? "text").toLowerCase();
    if (tag === "button") return "button";
    if (tag === "textarea") return "textbox";
    if (tag === "a" && element.hasAttribute("href")) return "link";
    if (/^h[1-6]$/.test(tag)) return "heading";
    if (tag === "input") {
      if (["button", "submit", "reset", "image"].includes(type)) return "button";
      if (type === "checkbox") return "checkbox";
      if (["text", "email", "url", "search", "tel", "password"].includes(type)) return "textbox";
    }
    return null;
  };
  const labelsOf = (element: Element): string[] => {
    const names = [element.getAttribute("aria-label") ?? ""];
    if (element.hasAttribute("aria-labelledby"))
      names.push(byIds(element.getAttribute("aria-labelledby")));
    const labels = (element as HTMLInputElement).labels;
    if (labels) for (const label of labels) names.push(normalize(label.textContent));
    return names.filter((name) => name !== "");
  };
  const accessibleName = (element: Element): string => {
    const labelled = labelsOf(element);
    if (labelled.length > 0) return labelled[0]!;
    if (element.tagName === "INPUT") {
      const input = element as HTMLInputElement;
      return input.type === "button" || input.type === "submit" ? input.value : input.placeholder;
    }
    return normalize(element.textContent);
  };
  const hidden = (element: Element) =>
    !element.checkVisibility({ visibilityProperty: true }) ||
    element.closest('[aria-hidden="true"]') !== null;

  let roots: (Document | Element)[] = [document];
  for (const step of steps) {
    const all = (selector: string) => {
      const found = new Set<Element>();
      for (const root of roots)
        for (const element of root.querySelectorAll(selector)) found.add(element);
      return [...found];
    };
    switch (step.kind) {
      case "css":
        roots = all(step.selector);
        break;
      case "role":
        roots = all("*").filter(
          (element) =>
            (element.getAttribute("role") ?? implicitRole(element)) === step.role &&
            !hidden(element) &&
            (step.name === undefined || matches(accessibleName(element), step.name, step.exact)),
        );
        break;
      case "label":
        roots = all("input, textarea, select, button, [aria-label], [aria-labelledby]").filter(
          (element) => labelsOf(element).some((name) => matches(name, step.text, step.exact)),
        );
        break;
      case "nth": {
        const element = roots.at(step.index);
        roots = element && element.nodeType === Node.ELEMENT_NODE ? [element] : [];
        break;
      }
      case "frame":
        roots = roots.flatMap((element) => {
          const inner = (element as HTMLIFrameElement).contentDocument;
          return inner ? [inner] : [];
        });
        break;
    }
  }
  // By node type: an element of a frame is no instance of this window's Element.
  return roots.filter((root): root is Element => root.nodeType === Node.ELEMENT_NODE);
}

/**
 * The expression that resolves the steps in the page and hands the elements to `then` (source).
 * Sent as source, not as a function: `resolve` must reach the page whole, and the page's
 * Content-Security-Policy forbids `eval` there.
 */
function inPage(steps: Step[], then: string): string {
  return `(${then})((${resolve.toString()})(${JSON.stringify(steps)}))`;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function describeSteps(steps: Step[]): string {
  return steps.map((step) => JSON.stringify(step)).join(" >> ");
}

class FirefoxLocator implements TestLocator {
  constructor(
    private readonly page: Page,
    private readonly steps: Step[],
  ) {}

  #with(step: Step): FirefoxLocator {
    return new FirefoxLocator(this.page, [...this.steps, step]);
  }

  /** The one element the locator selects, once there (and visible and enabled, for actions). */
  async #element(
    options: { actionable?: boolean; timeout?: number } = {},
  ): Promise<ElementHandle<Element>> {
    const deadline = Date.now() + (options.timeout ?? ACTION_TIMEOUT_MS);
    for (;;) {
      const found = (await this.page.evaluate(
        inPage(
          this.steps,
          `elements => ({ count: elements.length, ready: elements.filter(e => ${
            options.actionable
              ? "e.checkVisibility({ visibilityProperty: true }) && !e.disabled"
              : "true"
          }).length })`,
        ),
      )) as { count: number; ready: number };
      if (found.count > 1)
        throw new Error(
          `strict mode violation: ${describeSteps(this.steps)} selects ${found.count} elements`,
        );
      if (found.ready === 1) {
        const handle = await this.page.evaluateHandle(
          inPage(this.steps, "elements => elements[0]"),
        );
        const element = handle.asElement();
        if (element) return element as ElementHandle<Element>;
        await handle.dispose();
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${describeSteps(this.steps)}`);
      await sleep(POLL_MS);
    }
  }

  async #all(): Promise<string[]> {
    return this.page.evaluate(
      inPage(this.steps, 'elements => elements.map(e => e.textContent ?? "")'),
    ) as Promise<string[]>;
  }

  /**
   * `read` (a function's source) applied in the page to the one element, once there. In the page,
   * not through a handle: an element inside a frame has no handle in the page's realm.
   */
  async #read<R>(read: string, arg?: unknown, timeout = ACTION_TIMEOUT_MS): Promise<R> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const result = (await this.page.evaluate(
        inPage(
          this.steps,
          `async elements => elements.length === 1 ? { value: await (${read})(elements[0], ${JSON.stringify(arg)}) } : { count: elements.length }`,
        ),
      )) as { value: R } | { count: number };
      if ("value" in result) return result.value;
      if (result.count > 1)
        throw new Error(
          `strict mode violation: ${describeSteps(this.steps)} selects ${result.count} elements`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${describeSteps(this.steps)}`);
      await sleep(POLL_MS);
    }
  }

  /**
   * As Playwright's: once the element has stopped moving. Puppeteer measures where the element
   * is and presses the mouse there a round trip or more later: an element still moving (a dialog
   * sliding in) has left that point by then, and the click goes to whatever is there instead
   * (Syncthing's Save button, clicked while its settings dialog slid in on a busy machine: the
   * dialog's footer got the click, nothing was saved, and the dialog stayed open).
   */
  async click(): Promise<void> {
    const element = await this.#element({ actionable: true });
    await this.#stable(element);
    await element.click();
    await element.dispose();
  }

  /**
   * Waits until `element`'s box is the same in two consecutive animation frames (Playwright's
   * "stable"). A background tab may run no animation frames: then a tenth of a second apart.
   */
  async #stable(element: ElementHandle<Element>): Promise<void> {
    const deadline = Date.now() + ACTION_TIMEOUT_MS;
    for (;;) {
      const still = await element.evaluate(async (e) => {
        const frame = () =>
          new Promise<void>((done) => {
            requestAnimationFrame(() => done());
            setTimeout(done, 100);
          });
        const box = () => JSON.stringify(e.getBoundingClientRect());
        await frame();
        const before = box();
        await frame();
        return box() === before;
      });
      if (still) return;
      if (Date.now() > deadline)
        throw new Error(`${describeSteps(this.steps)} kept moving for ${ACTION_TIMEOUT_MS} ms`);
    }
  }

  async fill(value: string): Promise<void> {
    const element = await this.#element({ actionable: true });
    await element.evaluate((input, text) => {
      const field = input as HTMLInputElement;
      field.focus();
      field.value = text;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.dispatchEvent(new Event("change", { bubbles: true }));
    }, value);
    await element.dispose();
  }

  async setInputFiles(files: string | string[] | FilePayload): Promise<void> {
    let paths: string[];
    if (typeof files === "string") paths = [files];
    else if (Array.isArray(files)) paths = files;
    else {
      const file = join(mkdtempSync(join(tmpdir(), "wiregate-upload-")), files.name);
      writeFileSync(file, files.buffer);
      paths = [file];
    }
    const element = (await this.#element()) as ElementHandle<HTMLInputElement>;
    await element.uploadFile(...paths);
    await element.dispose();
  }

  async selectOption(value: string): Promise<string[]> {
    const element = (await this.#element({ actionable: true })) as ElementHandle<HTMLSelectElement>;
    const selected = await element.select(value);
    await element.dispose();
    return selected;
  }

  textContent(): Promise<string | null> {
    return this.#read("element => element.textContent");
  }

  inputValue(): Promise<string> {
    return this.#read("element => element.value");
  }

  getAttribute(name: string): Promise<string | null> {
    return this.#read("(element, name) => element.getAttribute(name)", name);
  }

  async count(): Promise<number> {
    return (await this.#all()).length;
  }

  allTextContents(): Promise<string[]> {
    return this.#all();
  }

  async waitFor(options: { state?: "attached" | "visible"; timeout?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeout ?? ACTION_TIMEOUT_MS);
    const check =
      options.state === "attached"
        ? "() => true"
        : "e => e.checkVisibility({ visibilityProperty: true })";
    for (;;) {
      if (await this.#read<boolean>(check, undefined, deadline - Date.now())) return;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${describeSteps(this.steps)} to be visible`);
      await sleep(POLL_MS);
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: as the interface's
  evaluate<R>(fn: (element: any, arg: any) => R | Promise<R>, arg?: unknown): Promise<R> {
    return this.#read(fn.toString(), arg);
  }

  first(): TestLocator {
    return this.#with({ kind: "nth", index: 0 });
  }

  last(): TestLocator {
    return this.#with({ kind: "nth", index: -1 });
  }

  nth(index: number): TestLocator {
    return this.#with({ kind: "nth", index });
  }

  locator(selector: string): TestLocator {
    return this.#with({ kind: "css", selector });
  }

  getByTestId(testId: string): TestLocator {
    return this.#with({ kind: "css", selector: `[data-testid=${JSON.stringify(testId)}]` });
  }

  getByRole(role: TestRole, options: { name?: string; exact?: boolean } = {}): TestLocator {
    return this.#with({ kind: "role", role, ...options });
  }

  getByLabel(text: string, options: { exact?: boolean } = {}): TestLocator {
    return this.#with({ kind: "label", text, ...options });
  }

  contentFrame(): TestFrame {
    return this.#with({ kind: "frame" });
  }
}

class FirefoxPage implements TestPage {
  readonly #root: FirefoxLocator;
  readonly keyboard: TestKeyboard;

  constructor(
    readonly page: Page,
    private readonly owner: FirefoxContext,
  ) {
    this.#root = new FirefoxLocator(page, []);
    this.keyboard = {
      // WebDriver BiDi sends one character at a time.
      insertText: async (text) => {
        for (const character of text) await page.keyboard.sendCharacter(character);
      },
      // Playwright's "Control+C": the modifiers held down around the key.
      press: async (key) => {
        const modifiers = key.split("+");
        const last = modifiers.pop()!;
        for (const modifier of modifiers) await page.keyboard.down(modifier as KeyInput);
        await page.keyboard.press((last.length === 1 ? last.toLowerCase() : last) as KeyInput);
        for (const modifier of modifiers.reverse()) await page.keyboard.up(modifier as KeyInput);
      },
    };
  }

  bringToFront(): Promise<void> {
    return this.page.bringToFront();
  }

  goto(url: string): Promise<unknown> {
    return this.page.goto(url);
  }

  reload(): Promise<unknown> {
    return this.page.reload();
  }

  close(): Promise<void> {
    return this.page.close();
  }

  url(): string {
    return this.page.url();
  }

  title(): Promise<string> {
    return this.page.title();
  }

  // biome-ignore lint/suspicious/noExplicitAny: as the interface's
  evaluate<R>(fn: (arg: any) => R | Promise<R>, arg?: unknown): Promise<R> {
    return this.page.evaluate(fn as never, arg as never) as Promise<R>;
  }

  locator(selector: string): TestLocator {
    return this.#root.locator(selector);
  }

  getByTestId(testId: string): TestLocator {
    return this.#root.getByTestId(testId);
  }

  getByRole(role: TestRole, options?: { name?: string; exact?: boolean }): TestLocator {
    return this.#root.getByRole(role, options);
  }

  getByLabel(text: string, options?: { exact?: boolean }): TestLocator {
    return this.#root.getByLabel(text, options);
  }

  async screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown> {
    return this.page.screenshot({
      path: options.path as `${string}.png`,
      fullPage: !!options.fullPage,
    });
  }

  waitForTimeout(ms: number): Promise<void> {
    return sleep(ms);
  }

  on(event: "console" | "pageerror", listener: (value: never) => void): this {
    if (event === "console") this.page.on("console", listener as never);
    else
      this.page.on("pageerror", (raw) => {
        const error = raw as Error;
        // Firefox puts the error's name before its message; Chromium (and Playwright) does not.
        const message = error.message.startsWith(`${error.name}: `)
          ? error.message.slice(error.name.length + 2)
          : error.message;
        (listener as (error: Error) => void)(
          Object.assign(new Error(message), { name: error.name }),
        );
      });
    return this;
  }

  context(): TestContext {
    return this.owner;
  }

  /**
   * Stops every Service Worker of the browser, as Firefox stops an idle one (the next event
   * starts it again): `terminateWorker()` of each active worker of Firefox's Service Worker
   * manager, in the browser's privileged scope (WebDriver BiDi's chrome contexts, which
   * `--remote-allow-system-access` opens). Answers how many it stopped.
   */
  async stopServiceWorkers(): Promise<number> {
    // Puppeteer's BiDi browser's connection (not in its typings): raw BiDi commands.
    const { connection } = this.page.browser() as unknown as {
      connection: { send(method: string, params: object): Promise<unknown> };
    };
    const tree = (await connection.send("browsingContext.getTree", { "moz:scope": "chrome" })) as {
      result: { contexts: { context: string }[] };
    };
    const chrome = tree.result.contexts[0]?.context;
    if (!chrome) throw new Error("Firefox shows no chrome context (no system access?)");
    const reply = (await connection.send("script.evaluate", {
      expression: `(() => {
        const manager = Cc["@mozilla.org/serviceworkers/manager;1"].getService(Ci.nsIServiceWorkerManager);
        const registrations = manager.getAllRegistrations();
        let stopped = 0;
        for (let i = 0; i < registrations.length; i++) {
          const registration = registrations.queryElementAt(i, Ci.nsIServiceWorkerRegistrationInfo);
          if (registration.activeWorker) {
            registration.activeWorker.terminateWorker();
            stopped++;
          }
        }
        return stopped;
      })()`,
      target: { context: chrome },
      awaitPromise: false,
    })) as { result: { type: string; result?: { value: number }; exceptionDetails?: unknown } };
    if (reply.result.type !== "success")
      throw new Error(`stopping Service Workers: ${JSON.stringify(reply.result.exceptionDetails)}`);
    const stopped = reply.result.result?.value ?? 0;
    if (stopped === 0) throw new Error("no Service Worker to stop");
    return stopped;
  }
}

class FirefoxContext implements TestContext {
  readonly #requestListeners: ((request: TestRequest) => void)[] = [];
  readonly #pageListeners = new Set<(page: FirefoxPage) => void>();
  readonly #pages = new WeakMap<Page, FirefoxPage>();
  /** The pages of `newPage()`, which are no tab a page opened. */
  readonly #own = new WeakSet<Page>();

  constructor(
    private readonly context: BrowserContext,
    private readonly viewport: { width: number; height: number },
  ) {
    // Every tab of the context, whether the test or a page opened it (BiDi's
    // browsingContext.contextCreated, which Puppeteer reports as a page target).
    // A frame is a page target too: only the context's top-level pages are tabs.
    context.on("targetcreated", (target) => {
      if (target.type() !== "page") return;
      void (async () => {
        const page = await target.page();
        if (page && (await context.pages()).includes(page)) this.#wrap(page);
      })();
    });
  }

  /** The one wrapper of a Puppeteer page, whose requests it reports. */
  #wrap(page: Page): FirefoxPage {
    let wrapped = this.#pages.get(page);
    if (!wrapped) {
      wrapped = new FirefoxPage(page, this);
      this.#pages.set(page, wrapped);
      page.on("request", (request) => {
        for (const listener of this.#requestListeners) listener(request);
      });
      for (const listener of this.#pageListeners) listener(wrapped);
    }
    return wrapped;
  }

  /**
   * A new tab of the viewport's size. (A tab a page opens keeps the window's size: BiDi's
   * setViewport on it waits for the tab to draw, which a tab behind another may not do.)
   */
  async newPage(): Promise<TestPage> {
    const page = await this.context.newPage();
    this.#own.add(page);
    await page.setViewport(this.viewport);
    return this.#wrap(page);
  }

  /**
   * The next tab a page of this context opens, once it has left about:blank for the address it
   * was opened with (as Playwright's: BiDi reports the browsing context before it navigates).
   */
  waitForEvent(_event: "page", options: { timeout?: number } = {}): Promise<TestPage> {
    const deadline = Date.now() + (options.timeout ?? ACTION_TIMEOUT_MS);
    const created: FirefoxPage[] = [];
    const listener = (page: FirefoxPage) => created.push(page);
    this.#pageListeners.add(listener);
    return (async () => {
      try {
        for (;;) {
          // Not one of newPage's (whose wrapper may come first, from the target event).
          const opened = created.find(
            (page) => !this.#own.has(page.page) && page.url() !== "about:blank",
          );
          if (opened) return opened;
          if (Date.now() > deadline)
            throw new Error(`no tab opened within ${options.timeout ?? ACTION_TIMEOUT_MS} ms`);
          await sleep(POLL_MS);
        }
      } finally {
        this.#pageListeners.delete(listener);
      }
    })();
  }

  close(): Promise<void> {
    return this.context.close();
  }

  on(_event: "request", listener: (request: TestRequest) => void): this {
    this.#requestListeners.push(listener);
    return this;
  }
}

export interface FirefoxOptions {
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
  /** Preferences over FIREFOX_PREFS (e.g. `network.dns.forceResolve`). */
  readonly prefs?: Record<string, unknown>;
}

/**
 * Firefox ESR, headless, with a fresh temporary profile that Puppeteer deletes on `close()`.
 * Whether the page's own certificate errors are ignored is a session setting in WebDriver BiDi,
 * not a context's: the browser starts once for contexts that trust nothing and once for contexts
 * that accept the relay's self-signed certificate, each when first asked for.
 */
export function launchFirefox(options: FirefoxOptions = {}): TestBrowser {
  const sessions = new Map<boolean, Promise<Browser>>();
  const session = (acceptInsecureCerts: boolean) => {
    let browser = sessions.get(acceptInsecureCerts);
    if (!browser) {
      browser = puppeteer.launch({
        browser: "firefox",
        executablePath: FIREFOX_PATH,
        headless: true,
        acceptInsecureCerts,
        // The privileged scope, for stopServiceWorkers (nothing else uses it).
        args: ["--remote-allow-system-access"],
        extraPrefsFirefox: { ...FIREFOX_PREFS, ...options.prefs },
        timeout: options.timeoutMs ?? 60_000,
        ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
      });
      sessions.set(acceptInsecureCerts, browser);
    }
    return browser;
  };
  let version = "firefox";
  return {
    async newContext(contextOptions = {}) {
      const browser = await session(contextOptions.ignoreHTTPSErrors ?? false);
      version = await browser.version();
      const viewport = contextOptions.viewport ?? { width: 1280, height: 720 };
      return new FirefoxContext(await browser.createBrowserContext(), viewport);
    },
    async close() {
      const browsers = await Promise.allSettled(sessions.values());
      sessions.clear();
      for (const browser of browsers)
        if (browser.status === "fulfilled") await browser.value.close();
    },
    version: () => version,
  };
}
