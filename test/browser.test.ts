/**
 * Each browser of BROWSERS through the one page interface: a page from a local server, the
 * look-ups the browser tests use (test id, CSS, role and name, label, n-th, inside a frame), the
 * actions (click, fill, file input), console errors and uncaught exceptions, and a tab the page
 * opens (its address, reload and close), and a Service Worker stopped as the browser stops an idle
 * one.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROWSERS, launchBrowser, type TestBrowser, type TestPage } from "./helpers/browser.js";
import { stopServiceWorkers } from "./helpers/service-workers.js";

const PAGE = `<!doctype html><title>wiregate</title>
<p id=greeting>served by node:http</p>
<div role=tablist><button role=tab>Connect</button><button role=tab>Tools</button></div>
<section><button>Connect</button><button hidden>Connect</button><button disabled>Later</button></section>
<label>Destination <input id=destination></label>
<label>Payload (bytes) <input id=payload></label>
<label>Payload (bytes) total <input id=total></label>
<label>Import a .conf file <input type=file id=file></label>
<button id=open onclick="window.open('/tab?n=' + (++window.opened || (window.opened = 1)), '_blank')">Open</button>
<output data-testid=echo></output>
<ul data-testid=list><li>one</li><li>two</li><li>three</li></ul>
<iframe data-testid=frame srcdoc="<h1>inside</h1>"></iframe>
<script>
  const echo = document.querySelector("[data-testid=echo]");
  document.querySelector("section button").onclick = () => (echo.textContent = "clicked " + document.getElementById("destination").value);
  document.getElementById("destination").oninput = (e) => (echo.dataset.typed = e.target.value);
  document.getElementById("file").onchange = async (e) => (echo.textContent = await e.target.files[0].text());
</script>`;

/** A Service Worker that answers /started with when it started. */
const SERVICE_WORKER = `const started = String(Date.now() + Math.random());
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => {
  if (new URL(event.request.url).pathname === "/started") event.respondWith(new Response(started));
});`;

let tabLoads = 0;
const server = createServer((request, response) => {
  if (request.url === "/sw.js") {
    response.writeHead(200, { "content-type": "text/javascript" });
    response.end(SERVICE_WORKER);
    return;
  }
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  if (request.url?.startsWith("/tab"))
    response.end(`<title>tab</title><h1>load ${++tabLoads}</h1>`);
  else response.end(PAGE);
});
beforeAll(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)));
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe.each(BROWSERS)("headless %s through the page interface", (name) => {
  let browser: TestBrowser;
  let page: TestPage;
  const errors: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser(name);
    page = await (await browser.newContext()).newPage();
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it("loads a page from a local server and reads its text", async () => {
    expect(await page.locator("#greeting").textContent()).toBe("served by node:http");
    expect(await page.title()).toBe("wiregate");
  });

  it("finds by role and name, by label and by test id, as Playwright does", async () => {
    expect(await page.getByRole("tab").count()).toBe(2);
    // Substring, case-insensitive, unless exact; hidden elements are not in the accessibility tree.
    expect(await page.getByRole("button", { name: "connect" }).count()).toBe(1);
    expect(await page.getByRole("button", { name: "connect", exact: true }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Later" }).count()).toBe(1);
    expect(await page.getByRole("tab", { name: "Connect" }).count()).toBe(1);
    await page.getByLabel("Destination").fill("10.99.0.1");
    expect(await page.getByTestId("echo").getAttribute("data-typed")).toBe("10.99.0.1");
    expect(await page.getByLabel("Destination").inputValue()).toBe("10.99.0.1");
    await page.getByLabel("Payload (bytes)", { exact: true }).fill("56");
    expect(await page.locator("#payload").inputValue()).toBe("56");
    // More than one match is an error for an action, as in Playwright's strict mode.
    await expect(page.getByLabel("Payload (bytes)").fill("1")).rejects.toThrow(/strict mode/);
    await page.getByRole("button", { name: "Connect" }).last().click();
    expect(await page.getByTestId("echo").textContent()).toBe("clicked 10.99.0.1");
    expect(await page.getByTestId("list").locator("li").allTextContents()).toEqual([
      "one",
      "two",
      "three",
    ]);
    expect(await page.getByTestId("list").locator("li").nth(1).textContent()).toBe("two");
    expect(await page.getByTestId("frame").contentFrame().locator("h1").textContent()).toBe(
      "inside",
    );
    expect(
      await page
        .locator("li")
        .first()
        .evaluate((li: HTMLElement) => li.tagName),
    ).toBe("LI");
  });

  it("waits for an element, with a timeout", async () => {
    await page.evaluate(() => {
      setTimeout(
        () => document.body.append(Object.assign(document.createElement("b"), { id: "late" })),
        200,
      );
    });
    await page.locator("#late").waitFor({ state: "attached", timeout: 5_000 });
    await expect(page.locator("#never").waitFor({ timeout: 300 })).rejects.toThrow();
  });

  it("clicks a button once it has stopped moving (a dialog sliding in), not where it was", async () => {
    await page.evaluate(() => {
      const button = Object.assign(document.createElement("button"), { id: "sliding" });
      button.textContent = "Save";
      button.style.cssText = "position: fixed; top: 200px; left: 0; width: 20px; height: 20px";
      button.onclick = () => (button.dataset.clicked = "yes");
      document.body.append(button);
      // Back and forth at 5 px a millisecond for a second, then still: measured, then pressed a
      // round trip later, it has moved on.
      button.animate([{ left: "0" }, { left: "1000px" }], {
        duration: 200,
        iterations: 5,
        direction: "alternate",
      });
    });
    await page.locator("#sliding").click();
    expect(await page.locator("#sliding").getAttribute("data-clicked")).toBe("yes");
  });

  it("sets a file input from a buffer", async () => {
    await page.getByLabel("Import a .conf file").setInputFiles({
      name: "wg0.conf",
      mimeType: "text/plain",
      buffer: Buffer.from("[Interface]\n"),
    });
    await expect.poll(() => page.getByTestId("echo").textContent()).toBe("[Interface]\n");
  });

  it("reports console errors and uncaught exceptions", async () => {
    await page.evaluate(() => {
      console.error("logged");
      setTimeout(() => {
        throw new Error("thrown");
      });
    });
    await expect.poll(() => errors).toEqual(["logged", "pageerror: thrown"]);
  });

  it("follows a tab the page opens: its address, a reload, and closing it", async () => {
    const [tab] = await Promise.all([
      page.context().waitForEvent("page"),
      page.locator("#open").click(),
    ]);
    expect(new URL(tab.url()).pathname).toBe("/tab");
    await expect.poll(() => tab.locator("h1").textContent()).toMatch(/^load \d+$/);
    const first = Number((await tab.locator("h1").textContent())!.slice(5));
    await tab.reload();
    await expect.poll(() => tab.locator("h1").textContent()).toBe(`load ${first + 1}`);
    await tab.close();
    await page.bringToFront();
    expect(await page.locator("#greeting").textContent()).toBe("served by node:http");
  });

  it("stops Service Workers: the next request starts the worker again", async () => {
    await page.evaluate(async () => {
      await navigator.serviceWorker.register("/sw.js");
      await navigator.serviceWorker.ready;
      // Claimed on activation: the page's fetches go through it from then on.
      while (!navigator.serviceWorker.controller)
        await new Promise((resolve) =>
          navigator.serviceWorker.addEventListener("controllerchange", resolve),
        );
    });
    const started = () => page.evaluate(async () => (await fetch("/started")).text());
    const first = await started();
    expect(await started()).toBe(first);
    await stopServiceWorkers(page);
    const again = await started();
    expect(again).not.toBe(first);
    expect(await started()).toBe(again);
  });
});
