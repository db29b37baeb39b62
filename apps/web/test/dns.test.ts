/**
 * The tunnel's DNS in each browser (Chromium, Firefox ESR), over HTTP/3 and the WebSocket fallback:
 * dnsmasq inside wireguard-go's namespace answers names for the namespace's services, named by the
 * config's `DNS =` line (a server and a search domain). Tools resolves them (addresses and TTLs),
 * Browse, the TCP console and ping reach a service by name; NXDOMAIN and a silent server (the
 * Connect screen's DNS field, on the first carriage) show clear errors; a short TTL's expiry makes
 * the page ask again (dnsmasq's query log counts it); and the demo peer answers for
 * `demo.wiregate` out of the box. And, on the first carriage, an attack: a hostile server inside the tunnel (floods of wrong-ID and unsolicited answers, answers
 * as big as a datagram holds, the largest TTLs) leaves the resolver's cache and pending queries
 * bounded and the rest of the tunnel working.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey, keyToBase64, nobleCrypto, publicKey } from "@wiregate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dnsmasq, startDnsmasq } from "../../../test/helpers/dnsmasq.js";
import { evaluateInFrame } from "../../../test/helpers/frames.js";
import { type HostileDns, startHostileDns } from "../../../test/helpers/hostile-dns.js";
import { startHttpServer } from "../../../test/helpers/http-server.js";
import { startWireGuardPeer, type WireGuardPeer } from "../../../test/helpers/netns.js";
import {
  BROWSERS,
  browseOriginOf,
  browsePageUrl,
  browser,
  CARRIAGES,
  newContext,
  open,
  openTab,
  ping,
  type Stack,
  screenshot,
  startStack,
  type TestBrowser,
  type TestPage,
  watchErrors,
} from "./stack.js";

const clientPrivate = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
const clientPublic = keyToBase64(publicKey(nobleCrypto, clientPrivate));
/** A long TTL (the cached answer is seen) and a 1 s one (its expiry is seen). */
const TTL = 600;
const SHORT_TTL = 1;

let peer: WireGuardPeer;
let dns: Dnsmasq;
let hostile: HostileDns;
let directory: string;
/** The hostile server's address, on the namespace's WireGuard interface. */
const HOSTILE = "10.81.0.53";

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "wiregate-dns-"));
  writeFileSync(
    join(directory, "index.html"),
    '<!doctype html><title>Named</title><h1 id="title">Reached by name</h1>',
  );
  peer = await startWireGuardPeer({
    addresses: ["10.81.0.1/24", "fd81::1/64"],
    peers: [{ publicKey: clientPublic, allowedIPs: ["10.81.0.2/32", "fd81::2/128"] }],
    logLevel: "error",
  });
  await startHttpServer(peer.ns, 8080, directory);
  dns = await startDnsmasq(peer.ns, {
    names: {
      "web.wg.test": ["10.81.0.1", "fd81::1"],
      "short.wg.test": { addresses: ["10.81.0.1"], ttl: SHORT_TTL },
    },
    listen: ["10.81.0.1"],
    ttl: TTL,
    domains: ["wg.test"],
  });
  await peer.ns.exec("ip", ["addr", "add", `${HOSTILE}/32`, "dev", peer.ifname]);
  hostile = await startHostileDns(peer.ns, HOSTILE, { v4: "10.81.0.1", v6: "fd81::1" }, 10);
}, 60_000);

afterAll(async () => {
  hostile?.stop();
  await dns?.stop();
  await peer?.stop();
  rmSync(directory, { recursive: true, force: true });
});

const CONFIG = (dnsLine: string) =>
  [
    "[Interface]",
    `PrivateKey = ${keyToBase64(clientPrivate)}`,
    "Address = 10.81.0.2/32, fd81::2/128",
    `DNS = ${dnsLine}`,
    "",
    "[Peer]",
    `PublicKey = ${peer.publicKey}`,
    "AllowedIPs = 10.81.0.0/24, fd81::/64",
    "",
  ].join("\n");

/** Connects with `config` (and the Connect screen's DNS field, if given). */
async function connect(page: TestPage, config: string, field = "") {
  await openTab(page, "Connect");
  const disconnect = page.getByRole("button", { name: "Disconnect" });
  if ((await disconnect.getAttribute("disabled")) === null) {
    await disconnect.click();
    await expect.poll(() => page.getByTestId("badge").textContent()).toBe("Not connected");
  }
  await page.getByTestId("config").fill(config);
  await page.getByLabel("DNS inside the tunnel").fill(field);
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await expect
    .poll(() => page.getByTestId("badge").textContent(), { timeout: 20_000 })
    .toMatch(/^Connected/);
  // Connected is the relay session; the WireGuard handshake may still be under way (a lost
  // initiation is sent again after 5 s). Wait for the tunnel to carry a packet.
  await expect
    .poll(
      async () =>
        (await ping(page, { destination: "10.81.0.1", count: 1, intervalMs: 100 })).received,
      { timeout: 30_000 },
    )
    .toBe(1);
}

/** Resolves `name` on the Tools screen: the message and the answers shown. */
async function resolve(page: TestPage, name: string, timeout = 30_000) {
  await openTab(page, "Tools");
  await page.getByLabel("Name to resolve").fill(name);
  await page.getByRole("button", { name: "Resolve" }).click();
  await page.locator('[data-testid="resolve-result"][data-done="true"]').waitFor({
    state: "attached",
    timeout,
  });
  const answers = await page.getByTestId("resolved-address").allTextContents();
  const message = (await page.getByTestId("resolve-message").textContent()) ?? "";
  return { message, answers };
}

/**
 * Shows `address` on the Browse screen (on its own origin, `label`) and returns what `fn` gives in
 * the shown document.
 */
async function browseAndRead<R>(page: TestPage, address: string, label: string, fn: () => R) {
  await openTab(page, "Browse");
  await page.getByRole("textbox", { name: "Web address inside the tunnel" }).fill(address);
  await page.getByRole("button", { name: "Go" }).click();
  const origin = browseOriginOf(page.url(), label);
  await expect
    .poll(() => page.getByTestId("browse-origin").textContent(), { timeout: 20_000 })
    .toBe(`Shown on its own origin: ${origin}`);
  return evaluateInFrame(
    page,
    (url) => url.startsWith(`${origin}/`) && !url.includes("/__wiregate/"),
    fn,
  );
}

/** The shown document's title element, by name through the tunnel's DNS. */
const titleOf = (page: TestPage, address: string, label: string) =>
  browseAndRead(page, address, label, () => document.querySelector("#title")?.textContent);

// HTTP/3 (datagrams: the default a relay with HTTP/3 picks for nothing else) and WebSocket.
const CASES = CARRIAGES.filter((c) => c.name !== "HTTP/3 stream");

describe.each(BROWSERS)("in %s", (name) => {
  let b: TestBrowser;
  beforeAll(async () => {
    b = await browser(name);
  });
  afterAll(async () => {
    await b?.close();
  });

  describe.each(CASES)("the tunnel's DNS over $name", (transport) => {
    let stack: Stack;
    let page: TestPage;
    let errors: string[];
    beforeAll(async () => {
      const wg = { name: "wg", host: peer.underlayAddress, port: peer.listenPort };
      stack = await startStack([{ ...wg, publicKey: peer.publicKey }], transport.http3, true);
      page = await (await newContext(b, undefined, true)).newPage();
      errors = watchErrors(page);
    });
    afterAll(async () => {
      await page?.context().close();
      await stack?.close();
    });

    it("resolves names of the DNS line's server and search domain; Browse and the TCP console reach a service by name", {
      timeout: 90_000,
    }, async () => {
      await open(
        page,
        browsePageUrl(stack.relay.address, { upstream: "wg", carriage: transport.carriage }),
      );
      await connect(page, CONFIG("10.81.0.1, wg.test"));
      const before = dns.queries("web.wg.test");
      const first = await resolve(page, "web");
      expect(first.message).toBe("web.wg.test");
      expect(first.answers).toEqual([`10.81.0.1 · TTL ${TTL} s`, `fd81::1 · TTL ${TTL} s`]);
      expect(dns.queries("web.wg.test")).toBe(before + 2);
      // Asked again: from the cache, no query.
      const again = await resolve(page, "web.wg.test");
      expect(again.message).toBe("web.wg.test (from the cache)");
      expect(dns.queries("web.wg.test")).toBe(before + 2);
      if (transport.name === "WebSocket") await screenshot(page, "dns-resolve");

      // Browse by the short name: its origin is the name's, the worker resolves it.
      await expect
        .poll(() => titleOf(page, "http://web:8080/", "dn-8080-web"), { timeout: 30_000 })
        .toBe("Reached by name");

      await openTab(page, "TCP console");
      await page.getByLabel("Host", { exact: true }).fill("web.wg.test");
      await page.getByLabel("Port", { exact: true }).fill("8080");
      await page.getByRole("button", { name: "Connect" }).last().click();
      await expect
        .poll(() => page.getByTestId("console-state").textContent(), { timeout: 15_000 })
        .toMatch(/^Connected from 10\.81\.0\.2:\d+ to 10\.81\.0\.1:8080\.$/);
      await page.getByLabel("Line to send").fill("GET / HTTP/1.0");
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByLabel("Line to send").fill("");
      await page.getByRole("button", { name: "Send" }).click();
      await expect
        .poll(() => page.getByTestId("console-output").textContent(), { timeout: 15_000 })
        .toContain("Reached by name");
      // Tools' ping takes the name too.
      const byName = await ping(page, { destination: "web", count: 2, intervalMs: 100 });
      expect(byName).toMatchObject({ transmitted: 2, received: 2 });
      expect(await page.getByTestId("ping-log").textContent()).toContain("from 10.81.0.1");
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    });

    it("says NXDOMAIN clearly, in Tools, the TCP console and Browse", async () => {
      const missing = await resolve(page, "nobody");
      expect(missing.message).toBe("nobody: no such name (NXDOMAIN; tried nobody.wg.test)");
      expect(missing.answers).toEqual([]);
      const none = await ping(page, { destination: "nobody", count: 1, intervalMs: 100 });
      expect(none.transmitted).toBe(0);
      expect(await page.getByTestId("ping-log").textContent()).toContain(
        "nobody: no such name (NXDOMAIN",
      );
      await openTab(page, "TCP console");
      await page.getByLabel("Host", { exact: true }).fill("nobody.wg.test");
      await page.getByRole("button", { name: "Connect" }).last().click();
      await expect
        .poll(() => page.getByTestId("console-state").textContent(), { timeout: 15_000 })
        .toMatch(/^nobody\.wg\.test: no such name \(NXDOMAIN/);
      // Browse shows the worker's error in the frame.
      const shown = () =>
        browseAndRead(
          page,
          "http://nobody.wg.test:8080/",
          "dn-8080-nobody-wg-test",
          () => document.body?.textContent,
        );
      await expect
        .poll(shown, { timeout: 30_000 })
        .toContain("nobody.wg.test: no such name (NXDOMAIN");
    });

    it("asks again once a TTL ran out (dnsmasq counts the queries)", async () => {
      const first = await resolve(page, "short");
      expect(first.answers).toEqual([`10.81.0.1 · TTL ${SHORT_TTL} s`]);
      const asked = dns.queries("short.wg.test");
      // Resolve again until the answer is not from the cache: that must be a new query.
      await expect
        .poll(async () => (await resolve(page, "short")).message, {
          timeout: 20_000,
          interval: 200,
        })
        .toBe("short.wg.test");
      await dns.waitForQueries("short.wg.test", asked + 1);
    });

    // The resolver's timeout does not depend on the carriage (NXDOMAIN, which does travel back, is
    // checked on each): on the first carriage only, it costs a reconnect and 4 s of waiting.
    if (transport === CASES[0])
      it("says which server did not answer when the DNS field names a silent one", {
        timeout: 60_000,
      }, async () => {
        // 10.81.0.99 is nobody: the namespace drops what is sent to it. The field wins over the line.
        await connect(page, CONFIG("10.81.0.1, wg.test"), "10.81.0.99");
        const silent = await resolve(page, "web.wg.test");
        expect(silent.message).toMatch(
          /^no answer for web\.wg\.test \((A|AAAA)\) from 10\.81\.0\.99 \(2 tries each, 2 s apart\)$/,
        );
        // Address literals need no DNS.
        expect((await resolve(page, "10.81.0.1")).answers).toEqual(["10.81.0.1 · TTL 0 s"]);
      });

    // The flood costs seconds: on the first carriage only.
    if (transport === CASES[0])
      it("keeps its cache and pending queries bounded against a hostile server, and the tunnel works on", {
        timeout: 180_000,
      }, async () => {
        // Searched in evil.test, asked of the hostile server alone.
        await connect(page, CONFIG("10.81.0.1, wg.test"), `${HOSTILE}, evil.test`);
        // 300 names (600 questions: more than the cache holds), 8 at a time, from the Resolve box:
        // each is answered only after 10 wrong-ID answers, with 10 unsolicited ones to other ports.
        const names = 300;
        const all = await resolve(
          page,
          Array.from({ length: names }, (_, i) => `n${i}`).join(" "),
          120_000,
        );
        console.info(`hostile DNS: ${all.message.slice(0, 300)}`);
        // A flood loses datagrams on the way (the real answer among them, then a retry is flooded
        // too): most lookups still succeed, and a failure says which server did not answer.
        const resolved = Number(/^(\d+) of 300 names resolved/.exec(all.message)?.[1]);
        expect(resolved).toBeGreaterThan(names / 2);
        if (resolved < names) expect(all.message).toMatch(/no answer for n\d+\.evil\.test/);
        expect(hostile.queries()).toBeGreaterThanOrEqual(2 * names);
        // The tables stayed within their bounds; the floods were dropped, not kept.
        // The latest names are in the cache (the first ones were pushed out).
        const one = await resolve(page, `n${names - 1}`);
        expect(one.message).toBe(`n${names - 1}.evil.test (from the cache)`);
        // At most 32 addresses per answer, the TTL capped at an hour.
        expect(one.answers.length).toBeLessThanOrEqual(64);
        expect(one.answers.length).toBeGreaterThan(2);
        for (const answer of one.answers) {
          const ttl = Number(/TTL (\d+) s$/.exec(answer)![1]);
          expect(ttl).toBeLessThanOrEqual(3600);
        }
        const stats = JSON.parse(
          (await page.getByTestId("resolve-stats").getAttribute("data-stats")) ?? "{}",
        ) as { cacheEntries: number; pending: number; unrelated: number; sent: number };
        console.info(`hostile DNS: ${JSON.stringify(stats)}`);
        expect(stats.cacheEntries).toBeLessThanOrEqual(512);
        expect(stats.cacheEntries).toBeGreaterThan(400);
        expect(stats.pending).toBe(0);
        expect(stats.sent).toBeGreaterThanOrEqual(2 * names);
        // The wrong-ID answers arrived and were dropped (some flood datagrams may be lost on the way).
        expect(stats.unrelated).toBeGreaterThan(names);
        // The rest of the tunnel is unaffected: pings, and the page shown before.
        const after = await ping(page, { destination: "10.81.0.1", count: 5, intervalMs: 100 });
        expect(after).toMatchObject({ transmitted: 5, received: 5 });
        // And Browse by a name the hostile server answers (its first address is the real one).
        await expect
          .poll(() => titleOf(page, "http://web:8080/", "dn-8080-web"), { timeout: 30_000 })
          .toBe("Reached by name");
        expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
      });

    it("resolves the demo peer's own name, demo.wiregate, with a generated config", async () => {
      const demoPage = await (await newContext(b, undefined, true)).newPage();
      try {
        await open(
          demoPage,
          browsePageUrl(stack.relay.address, {
            peer: stack.demo.publicKey,
            carriage: transport.carriage,
            dns: "10.99.0.1, fd99::1",
          }),
        );
        await demoPage.getByRole("button", { name: "Generate key pair" }).click();
        expect(await demoPage.getByTestId("config").inputValue()).toContain(
          "DNS = 10.99.0.1, fd99::1",
        );
        await demoPage.getByRole("button", { name: "Connect", exact: true }).click();
        await expect
          .poll(() => demoPage.getByTestId("badge").textContent(), { timeout: 20_000 })
          .toMatch(/^Connected/);
        await expect
          .poll(
            async () =>
              (await ping(demoPage, { destination: "10.99.0.1", count: 1, intervalMs: 100 }))
                .received,
            { timeout: 30_000 },
          )
          .toBe(1);
        const demo = await resolve(demoPage, "demo.wiregate");
        expect(demo.answers).toEqual(["10.99.0.1 · TTL 300 s", "fd99::1 · TTL 300 s"]);
        expect((await resolve(demoPage, "nope.wiregate")).message).toMatch(/NXDOMAIN/);
      } finally {
        await demoPage.context().close();
      }
    });
  });
});
