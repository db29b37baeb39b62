/**
 * The tunnel's per-packet AEAD in real Chromium: noble's ChaCha20-Poly1305 (JavaScript) against
 * libsodium's (WebAssembly), both as the core's backends (`nobleCrypto`, `withSodiumAead`), one
 * seal and one open of a 1,168-byte WireGuard message per iteration, alternating in the same page.
 * Prints the ratio and the size each adds to the page (gzip). Writes test-results/aead-bench.json.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join, normalize } from "node:path";
import { gzipSync } from "node:zlib";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import { chromiumBrowser, RESULTS } from "../test/stack.js";

const ROOT = new URL("../../../", import.meta.url).pathname;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const closers = closeAfterAll();

/** The core's built backends and libsodium, as ES modules straight from the workspace. */
const PAGE = `<!doctype html>
<script type="importmap">{"imports": {
  "@noble/ciphers/": "/node_modules/@noble/ciphers/",
  "@noble/curves/": "/node_modules/@noble/curves/",
  "@noble/hashes/": "/node_modules/@noble/hashes/",
  "libsodium": "/node_modules/libsodium/dist/modules-esm/libsodium.mjs",
  "libsodium-wrappers": "/node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs"
}}</script>
<script type="module">
  import { nobleCrypto, withSodiumAead } from "/packages/core/dist/index.js";
  import sodium from "libsodium-wrappers";
  await sodium.ready;
  window.backends = { noble: nobleCrypto, libsodium: withSodiumAead(sodium) };
</script>`;

it("ChaCha20-Poly1305 seal + open of a 1,168-byte message: noble against libsodium", async () => {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname));
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      return;
    }
    if (!/^\/(node_modules|packages\/core\/dist)\//.test(path)) {
      response.writeHead(404).end();
      return;
    }
    try {
      response
        .writeHead(200, { "content-type": "text/javascript" })
        .end(readFileSync(join(ROOT, path)));
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  const chromium = await chromiumBrowser();
  closers.push(() => chromium.close());
  const page = await chromium.newPage();
  const { port } = server.address() as { port: number };
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => "backends" in window, null, { timeout: 30_000 });

  const result = await page.evaluate(async (rounds) => {
    type Backend = {
      seal(k: Uint8Array, n: bigint, p: Uint8Array, a: Uint8Array): Uint8Array;
      open(k: Uint8Array, n: bigint, c: Uint8Array, a: Uint8Array): Uint8Array | null;
    };
    const backends = (window as unknown as { backends: Record<string, Backend> }).backends;
    const key = crypto.getRandomValues(new Uint8Array(32));
    // 1,136 bytes of padded plaintext + 16 tag + 16 header = a 1,168-byte transport message.
    const plaintext = crypto.getRandomValues(new Uint8Array(1136));
    const empty = new Uint8Array(0);
    let counter = 0n;
    const once = (b: Backend) => {
      counter++;
      const opened = b.open(key, counter, b.seal(key, counter, plaintext, empty), empty);
      if (opened?.length !== plaintext.length) throw new Error("open failed");
    };
    const us: Record<string, number[]> = { noble: [], libsodium: [] };
    for (const b of Object.values(backends)) for (let i = 0; i < 2000; i++) once(b); // warm up
    for (let round = 0; round < rounds; round++) {
      for (const [name, b] of Object.entries(backends)) {
        const start = performance.now();
        let n = 0;
        while (performance.now() - start < 250) {
          for (let i = 0; i < 100; i++) once(b);
          n += 100;
        }
        us[name]!.push(((performance.now() - start) * 1000) / n);
      }
    }
    return us;
  }, ROUNDS);
  const median = (values: number[]) => values.slice().sort((a, b) => a - b)[values.length >> 1]!;
  const gzip = (path: string) => gzipSync(readFileSync(join(ROOT, path)), { level: 9 }).length;
  const summary = {
    rounds: ROUNDS,
    usPerSealOpenNoble: Number(median(result.noble!).toFixed(1)),
    usPerSealOpenLibsodium: Number(median(result.libsodium!).toFixed(1)),
    /** Median over rounds of noble's time / libsodium's in the same round. */
    nobleOverLibsodium: Number(
      median(result.noble!.map((n, i) => n / result.libsodium![i]!)).toFixed(2),
    ),
    libsodiumBytes: {
      raw:
        statSync(join(ROOT, "node_modules/libsodium/dist/modules-esm/libsodium.mjs")).size +
        statSync(
          join(ROOT, "node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs"),
        ).size,
      gzip:
        gzip("node_modules/libsodium/dist/modules-esm/libsodium.mjs") +
        gzip("node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs"),
    },
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, "aead-bench.json"),
    `${JSON.stringify({ ...summary, result }, null, 2)}\n`,
  );
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  expect(summary.usPerSealOpenLibsodium).toBeGreaterThan(0);
});
