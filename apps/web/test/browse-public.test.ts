/**
 * Browse on a public relay: the page at `https://relay.test:PORT/`, served by the relay's TLS port
 * with a certificate that also covers `*.browse.relay.test` (`--browse-domain browse.relay.test`),
 * shows the demo peer's page on `https://v4-80-10-99-0-1.browse.relay.test:PORT/`, its own origin,
 * over HTTP/3 and WebSocket, in Chromium and Firefox ESR; the frame reaches neither the page's
 * document nor its storage, and its origin may open no session. The TLS port answers hosts under
 * the Browse domain with the bridge only. In Chromium the names resolve to loopback through
 * `--host-resolver-rules` and the certificate is trusted by its key
 * (`--ignore-certificate-errors-spki-list`), not by ignoring errors: Chromium refuses a Service
 * Worker on an origin whose certificate has an error. Firefox has no such switch: every name
 * resolves to loopback (`network.dns.forceResolve`) and the session accepts the certificate
 * (WebDriver BiDi's acceptInsecureCerts), under which it gives the origin its Service Worker.
 */
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROWSERS, type BrowserName, launchChromium } from "../../../test/helpers/browser.js";
import type { TestBrowser } from "../../../test/helpers/browser-page.js";
import { launchFirefox } from "../../../test/helpers/firefox.js";
import { generateDevCertificate } from "../../relay/src/dev-cert.js";
import { browse, imagesLoaded, inFrame } from "./browse-screen.js";
import {
  CARRIAGES,
  connectTunnel,
  newContext,
  open,
  pageUrl,
  type Stack,
  startStack,
  watchErrors,
} from "./stack.js";

const NAME = "relay.test";
const DOMAIN = `browse.${NAME}`;

let directory: string;
let certFile: string;
let keyFile: string;
const browsers = new Map<BrowserName, TestBrowser>();

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "wiregate-browse-public-"));
  // The development certificate's kind (ECDSA P-256, 14 days): HTTP/3 also takes it by hash.
  const material = generateDevCertificate([NAME, `*.${DOMAIN}`, "127.0.0.1"]);
  certFile = join(directory, "cert.pem");
  keyFile = join(directory, "key.pem");
  writeFileSync(certFile, material.certPem);
  writeFileSync(keyFile, material.keyPem, { mode: 0o600 });
  const spki = new X509Certificate(material.certPem).publicKey.export({
    type: "spki",
    format: "der",
  });
  browsers.set(
    "chromium",
    await launchChromium({
      extraArgs: [
        `--host-resolver-rules=MAP ${NAME} 127.0.0.1, MAP *.${DOMAIN} 127.0.0.1`,
        `--ignore-certificate-errors-spki-list=${createHash("sha256").update(spki).digest("base64")}`,
      ],
    }),
  );
  browsers.set("firefox", launchFirefox({ prefs: { "network.dns.forceResolve": "127.0.0.1" } }));
}, 60_000);

afterAll(async () => {
  for (const b of browsers.values()) await b.close();
  rmSync(directory, { recursive: true, force: true });
});

/** GET `path` from the relay's TLS port with `host` as the Host (and TLS name). */
function get(port: number, host: string, path: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path,
          servername: host,
          headers: { host },
          rejectUnauthorized: false,
        },
        (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => (body += chunk.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      req.end();
    },
  );
}

describe.each(CARRIAGES.filter((c) => c.name !== "HTTP/3 stream"))(
  "a public relay's Browse domain, over $name",
  (transport) => {
    let stack: Stack;
    let port: number;
    beforeAll(async () => {
      stack = await startStack(
        [],
        transport.http3,
        false,
        {},
        {
          browseDomain: DOMAIN,
          certFile,
          keyFile,
        },
      );
      port = stack.relay.address.port;
    });
    afterAll(async () => {
      await stack?.close();
    });

    it("answers hosts under the Browse domain with the bridge only, and lets the page frame them", async () => {
      const label = `v4-80-10-99-0-1.${DOMAIN}`;
      const bridge = await get(port, label, "/");
      expect(bridge.status).toBe(200);
      // Framed by the page at the certificate's names (and the relay's own), nowhere else.
      expect(String(bridge.headers["content-security-policy"])).toMatch(
        new RegExp(`frame-ancestors [^;]*https://relay\\.test:${port}[ ;]`),
      );
      expect(bridge.body).toContain("/__wiregate/bridge.js");
      const pages = JSON.parse((await get(port, label, "/__wiregate/pages.json")).body);
      expect(pages.pages).toContain(`https://${NAME}:${port}`);
      // Never the page or its defaults, at a Browse host or any other name under the domain.
      expect((await get(port, label, "/wiregate.json")).body).not.toContain('"relay"');
      const other = await get(port, `anything.${DOMAIN}`, "/index.html");
      expect(other.status).toBe(404);
      const page = await get(port, NAME, "/index.html");
      expect(page.status).toBe(200);
      expect(String(page.headers["content-security-policy"])).toContain(
        `frame-src 'self' http://*.localhost:* https://*.${DOMAIN}:*`,
      );
      expect(JSON.parse((await get(port, NAME, "/wiregate.json")).body).browseDomain).toBe(DOMAIN);
    });

    it.each(BROWSERS)(
      "in %s, shows the demo peer's page on its own https origin, isolated from the page",
      {
        timeout: 90_000,
      },
      async (name) => {
        const context = await newContext(browsers.get(name)!, undefined, name === "chromium");
        try {
          const page = await context.newPage();
          const errors = watchErrors(page);
          const url = new URL(
            pageUrl(stack.relay.address, {
              peer: stack.demo.publicKey,
              carriage: transport.carriage,
            }),
          );
          url.hostname = NAME;
          url.searchParams.set("relay", `https://${NAME}:${port}/wiregate`);
          await open(page, url.href);
          await page.getByRole("button", { name: "Generate key pair" }).click();
          try {
            await connectTunnel(
              page,
              new RegExp(`^Connected · ${transport.badge.replace(/[()/]/g, "\\$&")}`),
            );
          } catch (e) {
            // What the page said, to tell why it did not connect.
            console.log("page text:", await page.evaluate(() => document.body.textContent), errors);
            throw e;
          }
          await page.evaluate(() => localStorage.setItem("wiregate-test-secret", "page only"));
          const origin = `https://v4-80-10-99-0-1.${DOMAIN}:${port}`;
          const frame = await browse(page, "http://10.99.0.1/", "v4-80-10-99-0-1", origin);
          await expect
            .poll(() => inFrame(frame, () => document.querySelector("h1")?.textContent), {
              timeout: 20_000,
            })
            .toBe("You are inside the tunnel");
          await expect.poll(() => imagesLoaded(frame), { timeout: 20_000 }).toBe(true);
          const reach = await inFrame(
            frame,
            async (relay: string) => {
              let parentDocument: string;
              try {
                parentDocument = String(window.parent.document.title);
              } catch {
                parentDocument = "refused";
              }
              // A session of the frame's own to the relay: the origin check refuses it.
              const session = await new Promise<string>((resolve) => {
                const socket = new WebSocket(relay);
                socket.onopen = () => resolve("opened");
                socket.onclose = () => resolve("refused");
              });
              return {
                origin: location.origin,
                secure: isSecureContext,
                parentDocument,
                storage: localStorage.getItem("wiregate-test-secret"),
                session,
              };
            },
            `wss://${NAME}:${port}/wiregate`,
          );
          expect(reach).toEqual({
            origin,
            secure: true,
            parentDocument: "refused",
            storage: null,
            session: "refused",
          });
          // Firefox reports the frame's refused session as an error of the page: that one is expected.
          const refused = `wss://${NAME}:${port}/wiregate`;
          expect(errors.filter((e) => e.startsWith("pageerror") && !e.includes(refused))).toEqual(
            [],
          );
        } finally {
          await context.close();
        }
      },
    );
  },
);
