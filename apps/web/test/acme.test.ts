/**
 * A relay with a certificate from an ACME CA (Pebble), and Chromium that trusts that CA's root
 * through its NSS database: the page opens and connects over HTTP/3 and over WebSocket with no
 * certificate hashes, no ignored errors and no certificate flags. A forced renewal during a ping
 * swaps the certificate: WebSocket loses nothing; HTTP/3 sessions are closed and the page
 * reconnects (docs/relay.md, "Certificates", says what that costs). Each transport with the page's
 * default carriage (`auto`: the stream) only: the certificate is the connection's, below the
 * session and the carriage its hello asks for, and the reconnect after the swap is the one
 * demo.test.ts runs on every carriage (a relay restart).
 */

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG, DemoPeer, mergeConfig, Relay } from "@wiregate/relay";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../test/helpers/browser.js";
import { freeTcpUdpPort, type Pebble, servedSerial, startPebble } from "../../relay/test/pebble.js";
import {
  connectTunnel,
  DIST,
  demoUpstream,
  open,
  openTab,
  requireBuild,
  TOKEN,
  watchErrors,
} from "./stack.js";

/** A HOME whose NSS database (what Chromium on Linux trusts) holds `rootPem` as a CA. */
function homeTrusting(rootPem: string): string {
  const home = mkdtempSync(join(tmpdir(), "wiregate-nss-"));
  const db = join(home, ".pki", "nssdb");
  mkdirSync(db, { recursive: true });
  const rootFile = join(home, "root.pem");
  writeFileSync(rootFile, rootPem);
  execFileSync("certutil", ["-d", `sql:${db}`, "-N", "--empty-password"]);
  execFileSync("certutil", [
    "-d",
    `sql:${db}`,
    "-A",
    "-t",
    "C,,",
    "-n",
    "ACME test root",
    "-i",
    rootFile,
  ]);
  return home;
}

const CASES = [
  { name: "HTTP/3", http3: true, badge: "WebTransport (HTTP/3)" },
  { name: "WebSocket", http3: false, badge: "WebSocket" },
] as const;

describe.each(CASES)("trusted ACME certificate, page over $name", (transport) => {
  let pebble: Pebble;
  let demo: DemoPeer;
  let relay: Relay;
  let chromium: Browser;
  let page: Page;
  let errors: string[];
  let port: number;
  let root: string;

  beforeAll(async () => {
    requireBuild();
    port = await freeTcpUdpPort();
    pebble = await startPebble({ tlsPort: port, httpPort: 1 });
    demo = await DemoPeer.start();
    relay = new Relay({
      config: mergeConfig(DEFAULT_CONFIG, {
        host: "127.0.0.1",
        port,
        opsPort: null,
        http3: transport.http3,
        tokens: [TOKEN],
        staticDir: DIST,
        upstreams: [demoUpstream(demo)],
        acmeDomains: ["localhost"],
        acmeDirectory: pebble.directory,
        acmeCaFile: pebble.caFile,
        acmeDir: mkdtempSync(join(tmpdir(), "wiregate-acme-")),
      }),
    });
    await relay.start();
    // The first certificate is being requested already: wait for it.
    await relay.certificates!.renewNow();
    expect(relay.certificates!.renewalDueAt).toBeGreaterThan(Date.now());
    root = await pebble.root();
    chromium = await launchChromium({
      extraArgs: [
        // The relay listens on 127.0.0.1 only: "localhost" must not lead QUIC to ::1.
        "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        // Chromium takes QUIC certificates only from publicly known roots, never from roots
        // added locally (ERR_QUIC_CERT_ROOT_NOT_KNOWN), unless the host is one it is told to
        // force QUIC on. Port 1 forces nothing; the certificate is still verified against the
        // NSS root (see the last test).
        "--origin-to-force-quic-on=localhost:1",
      ],
      env: { HOME: homeTrusting(root) },
    });
    // No ignoreHTTPSErrors: the certificate must be trusted for real.
    page = await (await chromium.newContext()).newPage();
    errors = watchErrors(page);
  });

  afterAll(async () => {
    await chromium?.close();
    await relay?.stop(0);
    await demo?.close();
    await pebble?.stop();
  });

  const badge = () => page.getByTestId("badge");

  it("opens the page and connects with no certificate hash", async () => {
    const relayUrl = `https://localhost:${port}/wiregate`;
    const query = new URLSearchParams({ relay: relayUrl, token: TOKEN, peer: demo.publicKey });
    await open(page, `https://localhost:${port}/index.html?${query}`);
    await page.getByRole("button", { name: "Generate key pair" }).click();
    await connectTunnel(page, /^Connected/, 15_000);
    expect(await badge().textContent()).toBe(`Connected · ${transport.badge} · MTU 1420`);
    await openTab(page, "Status");
    expect(await page.getByTestId("session").textContent()).toContain(
      transport.http3 ? "HTTP/3 reached the relay" : "HTTP/3 failed",
    );
  });

  it("keeps pinging while a forced renewal swaps the certificate", async () => {
    const count = 60;
    const before = await servedSerial(port, root);
    const [sessionBefore] = relay.sessions;
    await openTab(page, "Tools");
    await page.getByLabel("Destination").fill("10.99.0.1");
    await page.getByLabel("Count").fill(String(count));
    await page.getByLabel("Interval (ms)").fill("150");
    await page.getByRole("button", { name: "Start ping" }).click();
    const replies = page.locator('[data-testid="ping-log"] li.reply');
    await expect.poll(() => replies.count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(4);

    await relay.certificates!.renewNow();
    const summary = page.locator('[data-testid="ping-summary"][data-done="true"]');
    // The swap happened while the ping ran.
    expect(await summary.count()).toBe(0);
    expect(await servedSerial(port, root)).not.toBe(before);

    await summary.waitFor({ timeout: 30_000 });
    const received = Number(await page.getByTestId("received").textContent());
    const sequences = await replies.allTextContents();
    expect(sequences.at(-1)).toContain(`seq=${count}`);
    expect(await badge().textContent()).toBe(`Connected · ${transport.badge} · MTU 1420`);
    const [sessionAfter] = relay.sessions;
    if (transport.http3) {
      // Closed by the restart of the HTTP/3 server; the page came back on HTTP/3, same keys.
      expect(sessionAfter).not.toBe(sessionBefore);
      process.stdout.write(`HTTP/3 certificate swap: ${count - received} of ${count} pings lost\n`);
    } else {
      // The same WebSocket session, and every ping answered.
      expect(sessionAfter).toBe(sessionBefore);
      expect(received).toBe(count);
    }
    expect(relay.sessions.size).toBe(1);
    expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
  });

  it("still verifies certificates: a relay with an untrusted one is refused", async () => {
    const untrusted = new Relay({
      config: mergeConfig(DEFAULT_CONFIG, {
        host: "127.0.0.1",
        port: await freeTcpUdpPort(),
        opsPort: null,
        http3: transport.http3,
        tokens: [TOKEN],
        certDir: mkdtempSync(join(tmpdir(), "wiregate-untrusted-")),
      }),
    });
    const address = await untrusted.start();
    try {
      if (transport.http3) {
        // QUIC: the flag above must not have turned certificate checks off.
        expect(address.transports).toContain("http3");
        const outcome = await page.evaluate(async (url) => {
          const wt = new WebTransport(url);
          return wt.ready.then(
            () => "connected",
            (error: Error) => `refused: ${error.message}`,
          );
        }, `https://localhost:${address.port}/wiregate`);
        expect(outcome).toMatch(/^refused/);
      } else {
        // TLS over TCP: the NSS root trusts Pebble's certificates only.
        const other = await page.context().newPage();
        await expect(other.goto(`https://localhost:${address.port}/`)).rejects.toThrow(
          /ERR_CERT_AUTHORITY_INVALID/,
        );
        await other.close();
      }
      expect(untrusted.sessions.size).toBe(0);
    } finally {
      await untrusted.stop(0);
    }
  });
});
