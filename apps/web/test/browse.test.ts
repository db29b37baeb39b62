/**
 * The Browse screen and the TCP console in each browser (Chromium, Firefox ESR): pages that exist
 * only inside the tunnel, each server on an origin of its own (`http://<target>.localhost:<port>/`),
 * fetched by that origin's Service Worker through netstack TCP in the tunnel worker — the demo peer's page
 * (netstack on both ends) and a page served by a namespace's kernel behind wireguard-go, and 50 MB
 * down and up through it, also with 3 % loss each way inside the tunnel. On every carriage
 * (stack.ts): HTTP/3 datagrams, HTTP/3 stream (a relay with HTTP/3), and the WebSocket fallback.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpServer } from "../../../test/helpers/http-server.js";
import { startWireGuardPeer, type WireGuardPeer } from "../../../test/helpers/netns.js";
import { addRandomLoss } from "../../../test/helpers/random-loss.js";
import { browse, imagesLoaded, inFrame, type Shown } from "./browse-screen.js";
import {
  BROWSERS,
  browsePageUrl,
  CARRIAGES,
  carriageInUse,
  connectTunnel,
  newContext,
  open,
  openForPeer,
  openTab,
  pageKeyPair,
  type Stack,
  screenshot,
  startStack,
  type TestPage,
  useBrowser,
  watchErrors,
  wgUpstream,
} from "./stack.js";

const client = pageKeyPair();

let peer: WireGuardPeer;
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "wiregate-browse-"));
  writeFileSync(
    join(directory, "index.html"),
    '<!doctype html><title>Namespace</title><h1 id="title">Served by the namespace kernel</h1><img id="pic" src="pic.svg" alt="picture">',
  );
  writeFileSync(
    join(directory, "pic.svg"),
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30" fill="#c33"/></svg>',
  );
  peer = await startWireGuardPeer({
    addresses: ["10.79.0.1/24", "fd79::1/64"],
    peers: [{ publicKey: client.publicKey, allowedIPs: ["10.79.0.2/32", "fd79::2/128"] }],
    logLevel: "error",
  });
  await startHttpServer(peer.ns, 8080, directory);
}, 60_000);

afterAll(async () => {
  await peer?.stop();
  rmSync(directory, { recursive: true, force: true });
});

/** Bytes each way through Browse, and the kernel server's pattern for a download of them. */
const BULK = 50_000_000;
function patternSha256(n: number): string {
  const block = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));
  const hash = createHash("sha256");
  for (let left = n; left > 0; left -= block.length)
    hash.update(block.subarray(0, Math.min(left, block.length)));
  return hash.digest("hex");
}

/**
 * In the Browse frame (a client of the Service Worker): downloads `bytes` bytes from the kernel
 * server and uploads as many pseudo-random ones, returning the SHA-256 of each side's bytes.
 */
async function bulk(frame: Shown, bytes: number, label: string) {
  const { seconds, ...result } = await inFrame(
    frame,
    async (n: number) => {
      // The frame's own fetch: its requests go through the Service Worker that controls it.
      const hex = (buffer: ArrayBuffer) =>
        [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
      const started = performance.now();
      const down = await (await fetch(`/bytes/${n}`)).arrayBuffer();
      const downloadedAt = performance.now();
      const body = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
      const uploadFrom = performance.now();
      const answer = await (await fetch("/upload", { method: "PUT", body })).text();
      const seconds = {
        down: (downloadedAt - started) / 1000,
        up: (performance.now() - uploadFrom) / 1000,
      };
      return {
        seconds,
        downloaded: down.byteLength,
        downloadSha256: hex(await crypto.subtle.digest("SHA-256", down)),
        uploadSha256: hex(await crypto.subtle.digest("SHA-256", body)),
        serverSha256: answer.trim(),
      };
    },
    bytes,
  );
  // Information only (the machine may be busy): the benches measure, this proves the bytes.
  const rate = (s: number) => `${((bytes * 8) / s / 1e6).toFixed(1)} Mbit/s`;
  console.info(`Browse ${label}: down ${rate(seconds.down)}, up ${rate(seconds.up)}`);
  return result;
}

describe.each(BROWSERS)("in %s", (name) => {
  const b = useBrowser(name);

  describe.each(CARRIAGES)("Browse screen and TCP console over $name", (transport) => {
    let stack: Stack;
    beforeAll(async () => {
      // A Service Worker needs a secure context: the page comes from the relay's loopback
      // plain-HTTP listener, as `npm start` serves it, so the browser trusts no certificate at all
      // (HTTP/3 is reached with the certificate's hash).
      stack = await startStack([wgUpstream(peer)], transport.http3, true);
    });
    afterAll(async () => {
      await stack?.close();
    });
    /** The Browse frame showing the kernel server's page (the test before the bulk one). */
    let namespaceFrame: Shown | undefined;
    /** Connects, and checks that the page shows the case's transport and carriage. */
    const connect = async (page: TestPage) => {
      await connectTunnel(
        page,
        new RegExp(`^Connected · ${transport.badge.replace(/[()/]/g, "\\$&")}`),
      );
      // The case's carriage is the one in use (for auto, the relay's pick).
      await expect
        .poll(() => page.getByTestId("carriage").textContent())
        .toMatch(new RegExp(`^Carriage: ${carriageInUse(transport)} — `));
    };

    it("shows the demo peer's page with its stylesheet and image, over IPv4 and IPv6", {
      timeout: 90_000,
    }, async () => {
      const page = await (await newContext(b(), undefined, true)).newPage();
      const errors = watchErrors(page);
      await open(
        page,
        browsePageUrl(stack.relay.address, {
          peer: stack.demo.publicKey,
          carriage: transport.carriage,
        }),
      );
      await page.getByRole("button", { name: "Generate key pair" }).click();
      await connect(page);
      for (const [address, label] of [
        ["http://10.99.0.1/", "v4-80-10-99-0-1"],
        ["http://[fd99::1]/", "v6-80-fd99-0-0-0-0-0-0-1"],
      ] as const) {
        const frame = await browse(page, address, label);
        await expect
          .poll(() => inFrame(frame, () => document.querySelector("h1")?.textContent), {
            timeout: 20_000,
          })
          .toBe("You are inside the tunnel");
        await expect.poll(() => imagesLoaded(frame), { timeout: 20_000 }).toBe(true);
        // The stylesheet came through too (absolute path /style.css, from a controlled frame).
        const maxWidth = () => getComputedStyle(document.body).maxWidth;
        expect(await inFrame(frame, maxWidth)).toBe("40em".replace("40em", `${40 * 16}px`));
      }
      if (transport.name === "WebSocket") await screenshot(page, "browse-demo");
      // What cannot work is said, not attempted.
      await page
        .getByRole("textbox", { name: "Web address inside the tunnel" })
        .fill("https://10.99.0.1/");
      await page.getByRole("button", { name: "Go" }).click();
      expect(await page.getByTestId("browse-message").textContent()).toMatch(
        /^HTTPS inside the tunnel cannot work/,
      );

      // The TCP console speaks raw HTTP to the demo peer.
      await openTab(page, "TCP console");
      await page.getByRole("button", { name: "Connect" }).last().click();
      await expect
        .poll(() => page.getByTestId("console-state").textContent(), { timeout: 15_000 })
        .toMatch(/^Connected from/);
      await page.getByLabel("Line to send").fill("GET /bytes?n=5 HTTP/1.0");
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByLabel("Line to send").fill("");
      await page.getByRole("button", { name: "Send" }).click();
      await expect
        .poll(() => page.getByTestId("console-output").textContent(), { timeout: 15_000 })
        .toContain("HTTP/1.1 200 OK");
      if (transport.name === "WebSocket") await screenshot(page, "tcp-console");
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    });

    it("shows a page with its image from the namespace's kernel HTTP server behind wireguard-go", {
      timeout: 90_000,
    }, async () => {
      const page = await (await newContext(b(), undefined, true)).newPage();
      await openForPeer(page, stack.relay.address, {
        client,
        peerPublicKey: peer.publicKey,
        addresses: ["10.79.0.2/32", "fd79::2/128"],
        allowedIPs: ["10.79.0.0/24", "fd79::/64"],
        carriage: transport.carriage,
      });
      await connect(page);
      const frame = await browse(page, "http://10.79.0.1:8080/", "v4-8080-10-79-0-1");
      await expect
        .poll(() => inFrame(frame, () => document.querySelector("#title")?.textContent), {
          timeout: 20_000,
        })
        .toBe("Served by the namespace kernel");
      await expect.poll(() => imagesLoaded(frame), { timeout: 20_000 }).toBe(true);
      if (transport.name === "WebSocket") await screenshot(page, "browse-namespace");
      namespaceFrame = frame;
    });

    // 50 MB each way, twice, is the slowest test of all: Firefox runs it on the HTTP/3 stream only
    // (what auto picks over HTTP/3), Chromium on every carriage.
    if (name === "chromium" || transport.name === "HTTP/3 stream")
      it("moves 50 MB down and up through Browse to the kernel server, also with 3 % loss each way", {
        timeout: 600_000,
      }, async () => {
        const frame = namespaceFrame!;
        // 50 MB down and up through Browse and netstack, byte for byte; then again with 3 % of the
        // tunnel's packets lost each way (the namespace's side), which the TCP inside recovers.
        const expected = patternSha256(BULK);
        const clean = await bulk(frame, BULK, `${transport.name}, no loss`);
        expect(clean).toEqual({
          downloaded: BULK,
          downloadSha256: expected,
          uploadSha256: clean.serverSha256,
          serverSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        const loss = await addRandomLoss(peer.ns, peer.ifname, 3);
        try {
          const lossy = await bulk(frame, BULK, `${transport.name}, 3 % loss each way`);
          expect(lossy).toEqual({
            downloaded: BULK,
            downloadSha256: expected,
            uploadSha256: lossy.serverSha256,
            serverSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          });
          const { input, output } = await loss.counts();
          expect(input.dropped).toBeGreaterThan(0);
          expect(output.dropped).toBeGreaterThan(0);
        } finally {
          await loss.remove();
        }
      });
  });
});
