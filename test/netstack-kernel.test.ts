/**
 * @wiregate/netstack against the Linux kernel's TCP: our stack on our core over real UDP, through
 * wireguard-go in a namespace, to an HTTP server run by that namespace's kernel. Downloads and
 * uploads are checked by SHA-256, in parallel, and under 5 % random loss each way (nftables).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpRequest, type Netstack } from "@wiregate/netstack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpServer } from "./helpers/http-server.js";
import { generateKeyPair, startWireGuardPeer, type WireGuardPeer } from "./helpers/netns.js";
import { type NetstackPeer, repeatingBody, startNetstackPeer } from "./helpers/netstack-peer.js";
import { addRandomLoss } from "./helpers/random-loss.js";

const THEM = { v4: "10.87.0.1", v6: "fd87::1" };
const US = { v4: "10.87.0.2", v6: "fd87::2" };
const PORT = 8080;
const MB = 1024 * 1024;

/** The bytes the server's /bytes/N sends: a 64 KiB block repeated. */
const BLOCK = Uint8Array.from({ length: 65536 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
function expectedDigest(n: number): string {
  const h = createHash("sha256");
  for (let left = n; left > 0; left -= BLOCK.length)
    h.update(BLOCK.subarray(0, Math.min(left, BLOCK.length)));
  return h.digest("hex");
}

async function download(
  net: Netstack,
  host: string,
  n: number,
): Promise<{ digest: string; length: number }> {
  const response = await httpRequest(net, { host, port: PORT, path: `/bytes/${n}` });
  expect(response.status).toBe(200);
  const h = createHash("sha256");
  let length = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    h.update(chunk);
    length += chunk.length;
  }
  return { digest: h.digest("hex"), length };
}

async function upload(net: Netstack, host: string, n: number): Promise<string> {
  const body = repeatingBody(BLOCK, n);
  const response = await httpRequest(net, {
    host,
    port: PORT,
    method: "PUT",
    path: "/",
    body,
    bodyLength: n,
  });
  expect(response.status).toBe(200);
  return new Response(response.body).text();
}

let wg: WireGuardPeer;
let ours: NetstackPeer;
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "wiregate-http-"));
  wg = await startWireGuardPeer({
    addresses: [`${THEM.v4}/24`, `${THEM.v6}/64`],
    logLevel: "error",
  });
  await startHttpServer(wg.ns, PORT, directory);
  const keys = await generateKeyPair();
  ours = await startNetstackPeer(wg, { ...keys, ...US }, THEM);
}, 60_000);

afterAll(async () => {
  await ours?.close();
  await wg?.stop();
  rmSync(directory, { recursive: true, force: true });
});

describe("netstack TCP against the kernel's, through wireguard-go", () => {
  for (const host of [THEM.v4, THEM.v6]) {
    it(`downloads and uploads 10 MB with equal SHA-256 over ${host}`, {
      timeout: 120_000,
    }, async () => {
      const got = await download(ours.net, host, 10 * MB);
      expect(got).toEqual({ digest: expectedDigest(10 * MB), length: 10 * MB });
      expect(await upload(ours.net, host, 10 * MB)).toBe(expectedDigest(10 * MB));
    });
  }

  it("runs 50 connections in parallel", { timeout: 120_000 }, async () => {
    const sizes = Array.from({ length: 50 }, (_, i) => 50_000 + i * 1000);
    const results = await Promise.all(
      sizes.map((n, i) => download(ours.net, i % 2 ? THEM.v6 : THEM.v4, n)),
    );
    expect(results).toEqual(sizes.map((n) => ({ digest: expectedDigest(n), length: n })));
  });

  it("completes correctly with 5 % random loss each way", { timeout: 240_000 }, async () => {
    const loss = await addRandomLoss(wg.ns, wg.ifname, 5);
    try {
      const got = await download(ours.net, THEM.v4, 10 * MB);
      expect(got).toEqual({ digest: expectedDigest(10 * MB), length: 10 * MB });
      expect(await upload(ours.net, THEM.v6, 10 * MB)).toBe(expectedDigest(10 * MB));
      const counts = await loss.counts();
      for (const { seen, dropped, oversized } of [counts.input, counts.output]) {
        // The rule saw single segments (no GSO super-packets), and dropped about 5 % of them.
        expect(oversized).toBe(0);
        expect(seen).toBeGreaterThan(2000);
        expect(dropped / seen).toBeGreaterThan(0.03);
        expect(dropped / seen).toBeLessThan(0.07);
      }
    } finally {
      await loss.remove();
    }
  });
});
