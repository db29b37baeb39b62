/**
 * The page obeys the Content-Security-Policy the relay serves it with: connecting (the tunnel
 * worker), pinging through the tunnel and switching screens raise no violation in real Chromium,
 * on every carriage (the policy's connect-src must allow both WebTransport over HTTP/3 and the
 * WebSocket fallback). (browse.test.ts runs the Service Worker and the sandboxed frame under the
 * same policy.) Where the tunnel worker cannot load libsodium's WebAssembly, it falls back to
 * noble, says so, and works: on one carriage, since the worker picks its AEAD before it connects
 * and the carriage does not touch it.
 */

import { CONTENT_SECURITY_POLICY } from "@wiregate/relay";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CARRIAGES,
  carriageInUse,
  chromiumBrowser,
  connectTunnel,
  cspViolations,
  newContext,
  openTab,
  pageUrl,
  ping,
  recordCspViolations,
  type Stack,
  startStack,
  watchErrors,
} from "./stack.js";

let chromium: Browser;

beforeAll(async () => {
  chromium = await chromiumBrowser();
});

afterAll(async () => {
  await chromium?.close();
});

describe.each(CARRIAGES)("Content-Security-Policy over $name", (transport) => {
  let stack: Stack;
  let page: Page;

  beforeAll(async () => {
    stack = await startStack([], transport.http3);
    page = await (await newContext(chromium)).newPage();
    await recordCspViolations(page);
  });

  afterAll(async () => {
    await page?.context().close();
    await stack?.close();
  });

  it("is served with the page, and the page works within it", async () => {
    const errors = watchErrors(page);
    const response = await page.goto(
      pageUrl(stack.relay.address, { peer: stack.demo.publicKey, carriage: transport.carriage }),
    );
    expect(response?.headers()["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
    await page.getByRole("button", { name: "Generate key pair" }).click();
    await connectTunnel(page, `Connected · ${transport.badge} · MTU 1420`, 15_000);
    await expect
      .poll(() => page.getByTestId("carriage").textContent())
      .toMatch(new RegExp(`^Carriage: ${carriageInUse(transport)} — `));
    expect(
      (await ping(page, { destination: "10.99.0.1", count: 3, intervalMs: 50 })).received,
    ).toBe(3);
    await openTab(page, "Captures");
    await openTab(page, "Status");
    expect(await cspViolations(page)).toEqual([]);
    expect(errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
    await expect
      .poll(() => page.getByTestId("session").textContent())
      .toContain("libsodium (WebAssembly) for ChaCha20-Poly1305");
  });
});

/** The AEAD fallback: on the WebSocket fallback's relay only (see above). */
describe("the tunnel worker without libsodium", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  /** A page whose worker's request for the libsodium chunk is refused or never answered. */
  const withoutLibsodium = async (answer: "abort" | "never") => {
    const context = await newContext(chromium);
    let asked = 0;
    await context.route(/\/assets\/libsodium-wrappers-[^/]+\.js$/, (route) => {
      asked++;
      // A broken proxy or cache: the request fails, or hangs.
      return answer === "abort" ? route.abort("failed") : new Promise<void>(() => {});
    });
    const strictPage = await context.newPage();
    await strictPage.goto(pageUrl(stack.relay.address, { peer: stack.demo.publicKey }));
    await strictPage.getByRole("button", { name: "Generate key pair" }).click();
    await connectTunnel(strictPage, /^Connected/, 30_000);
    expect(asked).toBeGreaterThan(0);
    expect(
      (await ping(strictPage, { destination: "10.99.0.1", count: 3, intervalMs: 50 })).received,
    ).toBe(3);
    await openTab(strictPage, "Status");
    const session = await strictPage.getByTestId("session").textContent();
    await context.close();
    return session;
  };

  it("when libsodium does not load, the tunnel falls back to noble, says why, and pings", async () => {
    expect(await withoutLibsodium("abort")).toContain(
      "noble (JavaScript) only: libsodium's WebAssembly did not load",
    );
  });

  it("when the libsodium chunk never arrives, the tunnel connects on noble after 10 s", async () => {
    expect(await withoutLibsodium("never")).toContain(
      "noble (JavaScript) only: libsodium's WebAssembly did not load (not loaded within 10 s)",
    );
  });
});
