/**
 * The relay's Origin allow-list over HTTP/3, with real Chromium pages (Chromium's WebTransport is
 * HTTP/3 only) against a relay process: the add-on hands the relay no request headers unless the
 * relay takes over the request, so before it did, every HTTP/3 session passed as one without an
 * Origin. One carriage suffices: the Origin is checked when the session is opened, before the
 * hello that asks for a carriage.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricsText, sample } from "../apps/relay/test/helpers.js";
import { type RelayProcess, relayProcesses } from "../apps/relay/test/relay-process.js";
import { launchChromium } from "./helpers/browser.js";

const { relayWith, running } = relayProcesses();
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const REFUSED_ORIGIN = 'wiregate_relay_refusals_total{code="origin"}';
const heldSessions = async (relay: RelayProcess) =>
  (
    (await (await fetch(`http://127.0.0.1:${relay.address.opsPort}/healthz`)).json()) as {
      sessions: number;
    }
  ).sessions;

/** Opens a WebTransport session from a page at `pageUrl`: the close code, or "open" if it stays. */
async function sessionFrom(relay: RelayProcess, pageUrl: string): Promise<number | "open"> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  running.push({ stop: () => void context.close() });
  const page = await context.newPage();
  await page.goto(pageUrl);
  return page.evaluate(
    async ({ url, hash }) => {
      type Session = { ready: Promise<void>; closed: Promise<{ closeCode?: number }> };
      const { WebTransport } = globalThis as unknown as {
        WebTransport: new (url: string, options: unknown) => Session;
      };
      const wt = new WebTransport(url, {
        serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(hash) }],
      });
      await wt.ready;
      // A refused session is closed at once; an admitted one waits for its hello.
      return Promise.race([
        wt.closed.then((info) => info.closeCode ?? 0).catch(() => -1),
        new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 3_000)),
      ]);
    },
    { url: relay.address.url, hash: [...relay.address.certificateSha256] },
  );
}

describe("relay Origin allow-list over HTTP/3", () => {
  it("refuses a Chromium page of another origin and admits the relay's own page", async () => {
    const relay = await relayWith(["--hello-timeout=60000"]);
    const site = createServer((_req, res) =>
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>x</title>"),
    );
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    running.push({ stop: () => void site.close() });
    const foreignPage = `http://localhost:${(site.address() as AddressInfo).port}/`;
    expect(await sessionFrom(relay, foreignPage)).toBe(403);
    expect(sample(await metricsText(relay.address), REFUSED_ORIGIN)).toBe(1);
    expect(await heldSessions(relay)).toBe(0);
    // The relay's own origin (any page it answers, even a 404).
    expect(await sessionFrom(relay, `https://127.0.0.1:${relay.address.port}/`)).toBe("open");
    expect(await heldSessions(relay)).toBe(1);
    expect(sample(await metricsText(relay.address), REFUSED_ORIGIN)).toBe(1);
  }, 90_000);
});
