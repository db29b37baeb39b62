/**
 * The page in each browser (Chromium, Firefox ESR), through the relay, to the embedded demo peer,
 * on every carriage
 * (stack.ts): native WebTransport over HTTP/3 with datagrams and with the message stream, and the
 * WebSocket fallback when the relay has HTTP/3 off.
 * Connect, 20 pings and full-size IPv6, a crossing handshake provoked from both ends at once, the
 * relay restarted mid-ping; and every request the page made went to the relay and nowhere else.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assignDemoAddresses,
  BROWSERS,
  CARRIAGES,
  carriageInUse,
  connectTunnel,
  hostsInNetLog,
  keyWithSameIpv4,
  NO_HTTP3_REASON,
  newContext,
  open,
  openTab,
  pageUrl,
  ping,
  type Stack,
  screenshot,
  startRelay,
  startStack,
  type TestPage,
  useBrowser,
  watchErrors,
} from "./stack.js";

/** Chromium's own background services, and the name our resolver rules map everything else to. */
const CHROMIUM_OWN = /(^|\.)(google\.com|googleapis\.com|gstatic\.com)$|^~notfound$/i;

describe.each(BROWSERS)("in %s", (name) => {
  const netLog =
    name === "chromium"
      ? join(mkdtempSync(join(tmpdir(), "wiregate-netlog-")), "netlog.json")
      : undefined;
  const b = useBrowser(name, netLog);
  /** Every URL the pages requested (request events of the driver). */
  const requested: string[] = [];
  const relayOrigins = new Set<string>();

  describe.each(CARRIAGES)("browser client ⇄ relay ⇄ demo peer over $name", (transport) => {
    let stack: Stack;
    let page: TestPage;
    let errors: string[];
    let connectedAt = 0;

    beforeAll(async () => {
      stack = await startStack([], transport.http3);
      relayOrigins.add(new URL(stack.relay.address.url).origin);
      const context = await newContext(b());
      context.on("request", (request) => requested.push(request.url()));
      page = await context.newPage();
      errors = watchErrors(page);
    });

    afterAll(async () => {
      await page?.context().close();
      await stack?.close();
    });

    const badge = () => page.getByTestId("badge");

    it("generates a key pair, connects, says which transport and why, and shows the MTU", async () => {
      await open(
        page,
        pageUrl(stack.relay.address, { peer: stack.demo.publicKey, carriage: transport.carriage }),
      );
      await page.getByRole("button", { name: "Generate key pair" }).click();
      const publicKey = await page.getByTestId("public-key").inputValue();
      expect(publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      // Another key already holds the IPv4 address derived from the page's key: the demo peer gives
      // the page the next free one in the welcome, and the pings below only work from that one.
      expect(
        await stack.demo.addressesFor(keyWithSameIpv4(Buffer.from(publicKey, "base64"))),
      ).toBeDefined();
      expect(await page.getByTestId("config").inputValue()).toContain(
        `PublicKey = ${stack.demo.publicKey}`,
      );
      await screenshot(page, "connect");
      await connectTunnel(page, /^Connected/, 15_000);
      connectedAt = Date.now();
      // MTU 1420 on both: over HTTP/3 messages above the datagram limit take the message stream.
      expect(await badge().textContent()).toBe(`Connected · ${transport.badge} · MTU 1420`);
      await openTab(page, "Status");
      await expect.poll(() => page.getByTestId("handshake").textContent()).toBe("established");
      // The worker reports its crypto backend a moment after the handshake: wait for it.
      await expect
        .poll(() => page.getByTestId("session").textContent())
        .toContain("libsodium (WebAssembly) for ChaCha20-Poly1305");
      const session = await page.getByTestId("session").textContent();
      expect(session).toContain(`relay reports ${transport.relayReports}`);
      expect(session).toContain(
        transport.http3 ? "HTTP/3 reached the relay" : NO_HTTP3_REASON[name],
      );
      expect(session).toContain(publicKey);
      // The carriage the page asked for, or the relay's pick for auto, and why.
      const carriage = carriageInUse(transport);
      expect(session).toContain(`Carriage${carriage}`);
      expect(session).toContain(
        transport.carriage === "auto" ? "Why this carriageauto: " : "the client asked for it",
      );
      expect(await page.getByTestId("carriage").textContent()).toMatch(
        new RegExp(`^Carriage: ${carriage} — `),
      );
      // The tunnel's AEAD is libsodium's WebAssembly (allowed by the relay's policy), against the
      // demo peer's OpenSSL: the pings below prove them byte-compatible.
      expect(session).toContain("libsodium (WebAssembly) for ChaCha20-Poly1305");
      // The relay's stats frame says what its own QUIC dropped toward the page: nothing over
      // WebSocket (reliable), a count (perhaps none) over HTTP/3.
      await expect
        .poll(() => page.getByTestId("relay-stats").textContent())
        .toMatch(
          transport.http3
            ? /Relay dropped toward you(none|\d+ \(\d+ expired in its queue, \d+ lost.*\))/
            : /Relay dropped toward younone \(WebSocket is reliable\)/,
        );
    });

    it("sends 20 pings through the tunnel and gets 20 replies", async () => {
      const result = await ping(page, { destination: "10.99.0.1", count: 20, intervalMs: 100 });
      expect(result).toMatchObject({ transmitted: 20, received: 20 });
      expect(await page.getByTestId("loss").textContent()).toBe("0.0 %");
      expect(result.rtt).toMatch(/^[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms$/);
      await screenshot(page, "tools");
      // IPv6 inside the tunnel too, with full 1280-byte packets (40 + 8 + 1232): over HTTP/3 their
      // WireGuard messages exceed the datagram limit and travel on the message stream.
      const v6 = await ping(page, { destination: "fd99::1", count: 3, intervalMs: 50, size: 1232 });
      expect(v6.received).toBe(3);
    });

    it("converges in the crossing itself, with no retry, when both ends initiate at once, and shows the collision", async () => {
      // Both ends must be past REKEY_TIMEOUT (5 s) since their last handshake message.
      await page.waitForTimeout(Math.max(0, connectedAt + 5_500 - Date.now()));
      const publicKey = Buffer.from(await page.getByTestId("public-key").inputValue(), "base64");
      // Hold the page's initiation until the demo peer's own initiation is on its way to the page:
      // the two cross in flight.
      let held = false;
      stack.proxy.holdNextClientInitiation((release) => {
        held = true;
        const crossing = stack.proxy.nextServerInitiation();
        void stack.demo.initiateHandshake(publicKey);
        void crossing.then(release);
      });
      await openTab(page, "Status");
      const before = Date.now();
      await page.getByRole("button", { name: "Handshake now" }).click();
      const collision = page.locator('[data-testid="timeline"] li[data-kind="collision"]');
      await collision.first().waitFor({ timeout: 10_000 });
      expect(held).toBe(true);
      expect(await collision.first().textContent()).toContain("collision");
      // Converged: the ping works, and a handshake of this round completed before any retry of
      // the page's initiation (wireguard-go's stall waits REKEY_TIMEOUT, 5 s, for one). Counted in
      // the page's own events, not in time: a loaded machine may take long for one round trip.
      await expect
        .poll(
          async () =>
            (await ping(page, { destination: "10.99.0.1", count: 1, intervalMs: 10 })).received,
        )
        .toBe(1);
      await openTab(page, "Status");
      const events = await page.evaluate(() => {
        return [...document.querySelectorAll('[data-testid="timeline"] li')].map((li) => ({
          kind: li.getAttribute("data-kind") ?? "",
          at: Number(li.getAttribute("data-at")),
          className: li.className,
        }));
      });
      const thisRound = events.filter((e) => e.at >= before);
      const completedAt = Math.min(
        ...thisRound
          .filter((e) => /^(response-consumed|keypair-confirmed)$/.test(e.kind))
          .map((e) => e.at),
      );
      expect(completedAt).toBeLessThan(Number.POSITIVE_INFINITY);
      // A retry shows as "initiation-sent" (first initiations are debug events, not shown).
      expect(thisRound.filter((e) => e.kind === "initiation-sent" && e.at <= completedAt)).toEqual(
        [],
      );
      expect(events.some((e) => e.className.includes("level-error"))).toBe(false);
      expect(await badge().textContent()).toMatch(/^Connected/);
      await openTab(page, "Status");
      await screenshot(page, "status-collision");
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    });

    it("reconnects after the relay restarts and the pings resume", async () => {
      await openTab(page, "Tools");
      await page.getByLabel("Destination").fill("10.99.0.1");
      await page.getByLabel("Count").fill("40");
      await page.getByLabel("Interval (ms)").fill("250");
      await page.getByRole("button", { name: "Start ping" }).click();
      const replies = page.locator('[data-testid="ping-log"] li.reply');
      await expect.poll(() => replies.count()).toBeGreaterThanOrEqual(4);
      const { port } = stack.relay.address;
      await stack.relay.stop();
      await expect.poll(() => badge().textContent()).toMatch(/^Reconnecting/);
      const beforeRestart = await replies.count();
      const publicKey = await page.getByTestId("public-key").inputValue();
      stack.relay = assignDemoAddresses(
        await startRelay(stack.upstreams, port, transport.http3),
        stack.demo,
        stack.proxy.port,
      );
      await expect.poll(() => badge().textContent(), { timeout: 20_000 }).toMatch(/^Connected/);
      // Back on the same transport (HTTP/3 when the relay offers it), with the same keys.
      expect(await badge().textContent()).toBe(`Connected · ${transport.badge} · MTU 1420`);
      expect(await page.getByTestId("public-key").inputValue()).toBe(publicKey);
      await page
        .locator('[data-testid="ping-summary"][data-done="true"]')
        .waitFor({ timeout: 20_000 });
      const afterRestart = await replies.count();
      // Replies resumed after the new relay came up (the last ones of the run all arrived).
      expect(afterRestart).toBeGreaterThan(beforeRestart + 5);
      const sequences = await replies.allTextContents();
      expect(sequences.at(-1)).toContain("seq=40");
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    });
  });

  describe("requests", () => {
    it("went to the relay's origin and nowhere else", async () => {
      // data: URLs (Firefox reports some of its own, such as a font) never leave the browser.
      const network = requested.filter((url) => !url.startsWith("data:"));
      expect(network.length).toBeGreaterThan(0);
      expect(new Set(network.map((url) => new URL(url).origin))).toEqual(relayOrigins);
      // Firefox has no NetLog; its prefs keep its own services off the network (firefox.ts).
      if (!netLog) return;
      await b().close(); // completes the NetLog
      // WebTransport and QUIC are not Playwright requests: the browser's own log covers them. It
      // also names the Google services Chromium itself tries (resolved to nothing here).
      const hosts = [...hostsInNetLog(netLog)].filter((host) => !CHROMIUM_OWN.test(host));
      rmSync(dirname(netLog), { recursive: true, force: true });
      expect(new Set(hosts)).toEqual(new Set(["127.0.0.1"]));
    });
  });
});
