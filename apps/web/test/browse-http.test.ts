/**
 * HTTP as browsers do it, through Browse, against a small app served by node on a namespace's
 * kernel TCP behind wireguard-go (test/helpers/browse-app-server.mjs), in Chromium and Firefox ESR,
 * over HTTP/3 datagrams and the WebSocket fallback: a login with a CSRF token and an HttpOnly
 * session cookie, cookies written by scripts, redirects of each kind (relative and absolute),
 * fetches to absolute paths, gzip, Range, chunked answers and server-sent events, keep-alive
 * connections reused per target and bounded (the server numbers its connections); and a hostile
 * page on another server inside the tunnel that tries to reach the Wiregate page, its storage and
 * tunnel worker, another server's cookies and the relay's endpoints, and reports what it got to
 * its own server, which tells the test. One relay, page and tunnel per carriage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrowseApp, startBrowseApp } from "../../../test/helpers/browse-app.js";
import { startWireGuardPeer, type WireGuardPeer } from "../../../test/helpers/netns.js";
import { stopServiceWorkers } from "../../../test/helpers/service-workers.js";
import { browse, inFrame, type Shown } from "./browse-screen.js";
import {
  BROWSERS,
  browseOriginOf,
  CARRIAGES,
  connectTunnel,
  newContext,
  openForPeer,
  pageKeyPair,
  type Stack,
  screenshot,
  startStack,
  type TestPage,
  useBrowser,
  wgUpstream,
} from "./stack.js";

const client = pageKeyPair();
const SERVER = "10.78.0.1";
const APP = `http://${SERVER}:8080`;
const APP_LABEL = "v4-8080-10-78-0-1";
const HOSTILE_LABEL = "v4-8081-10-78-0-1";

let peer: WireGuardPeer;
let app: BrowseApp;

beforeAll(async () => {
  peer = await startWireGuardPeer({
    addresses: [`${SERVER}/24`],
    peers: [{ publicKey: client.publicKey, allowedIPs: ["10.78.0.2/32"] }],
    logLevel: "error",
  });
  app = await startBrowseApp(peer.ns, 8080, 8081);
}, 60_000);

afterAll(async () => {
  app?.stop();
  await peer?.stop();
});

/** What the app's server saw of the last request to `path` with `method`. */
const seen = (method: string, path: string) =>
  app.next((e) => e.server === "app" && e.method === method && e.path === path);

describe.each(BROWSERS)("in %s", (name) => {
  const b = useBrowser(name);

  // HTTP/3 (datagrams) and the WebSocket fallback: the Browse path is the same above the tunnel.
  describe.each(CARRIAGES.filter((c) => c.name !== "HTTP/3 stream"))(
    "Browse over $name",
    (transport) => {
      let stack: Stack;
      let page: TestPage;
      let shown: Shown;
      beforeAll(async () => {
        stack = await startStack([wgUpstream(peer)], transport.http3, true);
        page = await (await newContext(b(), undefined, true)).newPage();
      }, 60_000);
      afterAll(async () => {
        await stack?.close();
      });

      const heading = () => inFrame(shown, () => document.querySelector("h1")?.textContent ?? "");
      /** Loads the Wiregate page (again: a reload) and connects it to the namespace's peer. */
      const openAndConnect = async () => {
        await openForPeer(page, stack.relay.address, {
          client,
          peerPublicKey: peer.publicKey,
          addresses: ["10.78.0.2/32"],
          allowedIPs: ["10.78.0.0/24"],
          carriage: transport.carriage,
        });
        await connectTunnel(page);
      };

      it("logs in with a CSRF token and an HttpOnly session cookie; scripts see and write the others", {
        timeout: 90_000,
      }, async () => {
        await openAndConnect();
        shown = await browse(page, `${APP}/`, APP_LABEL);
        await expect.poll(heading, { timeout: 20_000 }).toBe("Not logged in");
        await inFrame(shown, () => (document.querySelector("#login") as HTMLAnchorElement).click());
        await expect
          .poll(() => inFrame(shown, () => document.querySelector("#form") !== null))
          .toBe(true);
        // A form post: the CSRF token from the form and from its cookie, then a 303 to /.
        await inFrame(shown, () => (document.querySelector("#form") as HTMLFormElement).submit());
        await expect.poll(heading, { timeout: 20_000 }).toBe("Logged in as alice");
        const post = await seen("POST", "/login");
        expect(post).toMatchObject({
          host: "10.78.0.1:8080",
          origin: APP,
          referer: `${APP}/login`,
          cookie: expect.stringMatching(/^csrf=[0-9a-f]{24}$/),
        });
        // The address bar followed the redirect; the frame stays on the app's own origin.
        await expect
          .poll(() =>
            page.getByRole("textbox", { name: "Web address inside the tunnel" }).inputValue(),
          )
          .toBe(`${APP}/`);
        if (transport.name === "WebSocket") await screenshot(page, "browse-login");

        const fromScripts = await inFrame(shown, async () => {
          const before = document.cookie;
          // biome-ignore lint/suspicious/noDocumentCookie: what the apps' scripts do, tested
          document.cookie = "fromscript=1; path=/";
          const me = await (await fetch("/api/me")).json();
          const server = await (await fetch("/api/cookies")).json();
          const forged = await fetch("/login", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: "csrf=forged&user=mallory",
          });
          return { before, after: document.cookie, me, server, forged: forged.status };
        });
        // HttpOnly stays out of scripts; Max-Age=0 removed a cookie; the rest is there.
        expect(fromScripts.before.split("; ").sort()).toEqual([
          expect.stringMatching(/^csrf=/),
          "theme=dark",
        ]);
        expect(fromScripts.after).toContain("fromscript=1");
        expect(fromScripts.me).toEqual({ user: "alice" });
        // The server got the session (HttpOnly) and the script's cookie with a fetch to /api/...
        expect(Object.keys(fromScripts.server).sort()).toEqual([
          "csrf",
          "fromscript",
          "session",
          "theme",
        ]);
        expect(fromScripts.forged).toBe(403);
      });

      it("follows redirects of each kind, relative and absolute, onto the app's own origin", {
        timeout: 60_000,
      }, async () => {
        const results = await inFrame(shown, async () => {
          const out: Record<string, unknown> = {};
          for (const status of [301, 302, 303, 307, 308])
            for (const absolute of ["", "/absolute"]) {
              const r = await fetch(`/redirect/${status}${absolute}`, {
                method: status === 303 || status >= 307 ? "POST" : "GET",
                body: status === 303 || status >= 307 ? "kept" : null,
              });
              const body = await r.text();
              out[`${status}${absolute}`] = {
                redirected: r.redirected,
                path: new URL(r.url).pathname + new URL(r.url).search,
                sameOrigin: new URL(r.url).origin === location.origin,
                body: status >= 307 ? JSON.parse(body) : body.includes(`Landed ${status}`),
              };
            }
          return out;
        });
        for (const status of [301, 302, 303])
          for (const absolute of ["", "/absolute"])
            expect(results[`${status}${absolute}`]).toEqual({
              redirected: true,
              path: `/landed?from=${status}`,
              sameOrigin: true,
              body: true,
            });
        // 307 and 308 keep the method and the body.
        for (const status of [307, 308])
          for (const absolute of ["", "/absolute"])
            expect(results[`${status}${absolute}`]).toEqual({
              redirected: true,
              path: "/api/echo",
              sameOrigin: true,
              body: expect.objectContaining({ method: "POST", body: "kept" }),
            });
        // A navigation redirected to the server's absolute URL lands on its Browse origin.
        await inFrame(shown, () => location.assign("/redirect/302/absolute"));
        await expect.poll(heading, { timeout: 20_000 }).toBe("Landed 302");
      });

      it("decodes gzip, passes Range, streams chunked answers and server-sent events", {
        timeout: 60_000,
      }, async () => {
        const results = await inFrame(shown, async () => {
          const gzip = await (await fetch("/gzip")).text();
          const range = await fetch("/range", { headers: { range: "bytes=10-19" } });
          const echo = await fetch("/api/echo", {
            method: "PUT",
            headers: { "content-type": "application/json", "x-custom": "yes" },
            body: '{"a":1}',
          });
          return {
            gzip: gzip === "compressed hello ".repeat(200),
            range: [range.status, await range.text()],
            chunked: await (await fetch("/chunked")).text(),
            echo: await echo.json(),
          };
        });
        expect(results).toEqual({
          gzip: true,
          range: [206, "KLMNOPQRST"],
          chunked: "first,second,third",
          echo: { method: "PUT", body: '{"a":1}', contentType: "application/json", custom: "yes" },
        });
        expect((await seen("GET", "/gzip")).acceptEncoding).toMatch(/\bgzip\b/);
        // An event arrives while its stream is still open (streamed, not buffered), then the next.
        await inFrame(shown, () => {
          const events: string[] = [];
          (window as unknown as { events: string[] }).events = events;
          const source = new EventSource("/sse");
          source.onmessage = (e) => events.push(e.data);
          (window as unknown as { source: EventSource }).source = source;
        });
        const events = () =>
          inFrame(shown, () => (window as unknown as { events: string[] }).events);
        await expect.poll(events, { timeout: 20_000 }).toEqual(["one"]);
        await inFrame(shown, () => fetch("/sse/next"));
        await expect.poll(events, { timeout: 20_000 }).toEqual(["one", "two"]);
        await inFrame(shown, () => (window as unknown as { source: EventSource }).source.close());
      });

      it("reuses connections per target, at most 6 at once however many requests the page makes", {
        timeout: 60_000,
      }, async () => {
        // A series of fetches: one connection carries them all (the pool's most recently used).
        const series = await inFrame(shown, async () => {
          const out: number[] = [];
          for (let i = 0; i < 10; i++)
            out.push((await (await fetch(`/api/connection?i=${i}`)).json()).connection);
          return out;
        });
        expect(new Set(series).size).toBe(1);
        // A page floods its target with 60 requests at once: the server holds them, and sees
        // at most 6 at a time (one per connection), on 6 connections in all.
        await app.command("hold");
        const flood = inFrame(shown, () =>
          Promise.all(
            Array.from({ length: 60 }, (_, i) =>
              fetch(`/hold?i=${i}`).then(async (r) => (await r.json()).connection as number),
            ),
          ),
        );
        const from = app.entries.length;
        await app.next((e) => e.held === 6 && app.entries.indexOf(e) >= from, 30_000);
        const { mostHeld } = await app.command("release");
        const connections = await flood;
        expect(connections).toHaveLength(60);
        expect(mostHeld).toBe(6);
        expect(new Set(connections).size).toBe(6);
        // The server closes its idle connections (its keep-alive timeout): the next requests
        // open new ones, and none fails.
        await app.command("close-idle");
        const after = await inFrame(shown, async () => {
          const out: number[] = [];
          for (let i = 0; i < 3; i++)
            out.push((await (await fetch(`/api/connection?after=${i}`)).json()).connection);
          return out;
        });
        expect(after.every((c) => !connections.includes(c) && !series.includes(c))).toBe(true);
      });

      it("a hostile page inside the tunnel reaches nothing of the page, the relay or another server", {
        timeout: 90_000,
      }, async () => {
        const pageOrigin = new URL(page.url()).origin;
        const address = stack.relay.address;
        const query = new URLSearchParams({
          app: `${browseOriginOf(page.url(), APP_LABEL)}/`,
          page: `${pageOrigin}/`,
          websocket: `ws://127.0.0.1:${new URL(address.localHttpUrl!).port}/wiregate`,
          relay: address.url,
          hash: Buffer.from(address.certificateSha256).toString("hex"),
          "app-host": SERVER,
          "app-port": "8080",
        });
        const reports = app.entries.filter((e) => e.report).length;
        await page.evaluate(
          () =>
            new Promise((resolve, reject) => {
              localStorage.setItem("wiregate-secret", "the page's");
              const open = indexedDB.open("wiregate-secret");
              open.onsuccess = () => resolve(open.result.close());
              open.onerror = () => reject(open.error);
            }),
        );
        const hostile = await browse(page, `http://${SERVER}:8081/?${query}`, HOSTILE_LABEL);
        const { report } = await app.next(
          (e) =>
            e.report !== undefined && app.entries.filter((x) => x.report).indexOf(e) >= reports,
          60_000,
        );
        const failed = (key: string) => expect(report[key], key).toMatchObject({ ok: false });
        // The Wiregate page: no DOM, storage or location of its.
        for (const key of [
          "parent.document",
          "top.location.href",
          "parent.localStorage",
          "parent.indexedDB",
        ])
          failed(key);
        // Its own storage is its own: not the page's database or key (put there before it loaded).
        expect(report["own IndexedDB names"]).toEqual({ ok: true, value: "(none)" });
        expect(report["own localStorage keys"]).toEqual({ ok: true, value: "(none)" });
        // The tunnel worker's messages, sent to the page, did nothing: no request reached the app.
        expect(report["postMessage to the page"]).toEqual({ ok: true, value: "sent" });
        expect(app.entries.some((e) => e.path === "/hostile-marker")).toBe(false);
        await expect.poll(() => page.getByTestId("badge").textContent()).toMatch(/^Connected/);
        // No Service Worker for the page's origin; no cookies of the app, by fetch or by frame.
        failed("a Service Worker for the page's scope");
        failed("the app's cookies (fetch)");
        failed("the app's page (frame)");
        expect(report["document.cookie"]).toEqual({ ok: true, value: "(none)" });
        // The relay: not its page, its defaults or its WebSocket endpoint, and no session.
        for (const key of ["relay wiregate.json", "relay wiregate", "relay index.html"])
          failed(key);
        expect(report["relay WebSocket session"]).toMatchObject({ ok: false });
        failed("relay WebTransport session");
        // The relay refused the WebSocket session for its origin (Chromium also shows the
        // reason the relay sent; Firefox closes before delivering it).
        expect(report["relay WebSocket session"].error).toMatch(
          /^Error: closed \d+ after "(|.*is a Browse origin.*)"$/,
        );
        // The relay counted each refusal: the WebSocket session, and the WebTransport one where
        // the relay has HTTP/3 (without it, nothing answers the WebTransport attempt at all).
        expect(stack.relay.relay.counters.refusals.get("origin")).toBe(transport.http3 ? 2 : 1);
        // It floods its own cookie jar (300 cookies): the jar keeps the newest MAX_COOKIES (180),
        // and the app's jar keeps its session (the next test logs in with it).
        await inFrame(hostile, async () => {
          for (const round of [1, 2]) await fetch(`/cookie-flood?round=${round}`);
        });
        const cookies = () => inFrame(hostile, () => document.cookie.split("; "));
        await expect.poll(async () => (await cookies()).length, { timeout: 20_000 }).toBe(180);
        expect(await cookies()).toContain("f2-149=v");
        if (transport.name === "WebSocket") await screenshot(page, "browse-hostile");
      });

      it("keeps the app's cookies across a reload of the Wiregate page, in its own origin's IndexedDB", {
        timeout: 90_000,
      }, async () => {
        // The login's session cookie is a session cookie (no Expires): kept in this tab's session.
        await openAndConnect();
        const from = app.entries.length;
        shown = await browse(page, `${APP}/`, APP_LABEL);
        await expect.poll(heading, { timeout: 20_000 }).toBe("Logged in as alice");
        const home = await app.next(
          (e) => e.path === "/" && e.server === "app" && app.entries.indexOf(e) >= from,
        );
        expect(home.cookie).toMatch(/(^|; )session=[0-9a-f]{32}(;|$)/);
        // The jars are the Wiregate origin's (the hostile page found no database of its own and
        // could not reach the page's, above).
        const databases = await page.evaluate(async () =>
          (await indexedDB.databases()).map((d) => d.name),
        );
        expect(databases).toContain("wiregate-browse-cookies");
      });

      // One carriage: nothing here depends on it, and the closed page costs the ack timeout (sw.js).
      if (transport.name === "WebSocket")
        it("survives its Service Worker's restart, opens in a new tab, says when the page is gone", {
          timeout: 240_000,
        }, async () => {
          shown = await browse(page, `${APP}/`, APP_LABEL);
          await expect.poll(heading, { timeout: 20_000 }).toBe("Logged in as alice");
          // The browser stops the origin's Service Worker: the restarted one has no port, asks
          // the bridge for one, and the app answers as before.
          await stopServiceWorkers(page);
          await expect
            .poll(() => inFrame(shown, async () => (await fetch("/api/me")).json()), {
              timeout: 60_000,
            })
            .toEqual({ user: "alice" });
          // A new tab of the frame's address: the same origin, Service Worker and cookies.
          const [tab] = await Promise.all([
            page.context().waitForEvent("page"),
            page.getByRole("button", { name: "Open in new tab" }).click(),
          ]);
          await expect
            .poll(() => tab.locator("h1").textContent(), { timeout: 60_000 })
            .toBe("Logged in as alice");
          expect(new URL(tab.url()).origin).toBe(shown.origin);
          // The Wiregate page is closed: the tab's next load says so instead of hanging.
          await page.close();
          await tab.reload();
          await expect
            .poll(() => tab.locator("body").textContent(), { timeout: 60_000 })
            .toContain("the Wiregate page that showed it is closed or not connected");
          await tab.close();
        });
    },
  );
});
