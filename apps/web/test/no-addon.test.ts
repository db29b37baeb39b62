/**
 * The HTTP/3 add-on absent (not merely turned off): the relay CLI runs in a child process in which
 * the add-on cannot be resolved, as on a machine where it did not install. The relay must say at
 * start that HTTP/3 is off and why, and the page must fall back to WebSocket and work.
 * One carriage (the page's default, `auto`: the stream): without the add-on the relay has no
 * HTTP/3 carriage to offer, and the WebSocket carriages are the same code as in a relay with HTTP/3
 * turned off, which demo.test.ts and the others run on every carriage (CARRIAGES in stack.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { lineMatching, lines } from "../../relay/test/relay-process.js";
import {
  chromiumBrowser,
  connectTunnel,
  DIST,
  newContext,
  open,
  openTab,
  pageUrl,
  ping,
  requireBuild,
  TOKEN,
  watchErrors,
} from "./stack.js";

const CLI = fileURLToPath(new URL("../../relay/dist/cli.js", import.meta.url));
const WITHOUT_ADDON = fileURLToPath(new URL("./fixtures/without-http3-addon.mjs", import.meta.url));

let relay: ChildProcess | undefined;
let chromium: Browser | undefined;
afterAll(async () => {
  await chromium?.close();
  relay?.kill("SIGKILL");
});

const startLog: Record<string, unknown>[] = [];
let listening: Record<string, unknown> = {};

beforeAll(async () => {
  requireBuild();
  relay = spawn(
    process.execPath,
    [
      "--import",
      WITHOUT_ADDON,
      CLI,
      "--host=127.0.0.1",
      "--port=0",
      "--ops-port=0",
      `--cert-dir=${mkdtempSync(join(tmpdir(), "wiregate-no-addon-"))}`,
      `--static=${DIST}`,
    ],
    { env: { ...process.env, WIREGATE_RELAY_TOKENS: TOKEN }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const output = lines(relay);
  await lineMatching(output, (line) => {
    const entry = JSON.parse(line) as Record<string, unknown>;
    startLog.push(entry);
    if (entry.msg === "relay listening") listening = entry;
    return entry.msg === "relay listening";
  });
});

it("the relay says at start that HTTP/3 is off because the add-on is missing", () => {
  const off = startLog.find(
    (entry) => entry.msg === "HTTP/3 is off: serving HTTP/2 and WebSocket only",
  );
  expect(off?.reason).toMatch(
    /^@fails-components\/webtransport-transport-http3-quiche is not installed or does not load \(Cannot find package/,
  );
  expect(listening.transports).toEqual(["http2"]);
  expect(listening.http3).toBe(off?.reason);
});

it("the page falls back to WebSocket, says why, and pings through the demo peer", async () => {
  chromium = await chromiumBrowser();
  const page = await (await newContext(chromium)).newPage();
  const errors = watchErrors(page);
  const url = String(listening.url);
  await open(
    page,
    pageUrl(
      {
        host: "127.0.0.1",
        port: Number(new URL(url).port),
        url,
        certificateSha256: Buffer.from(String(listening.certificateSha256), "hex"),
        opsPort: null,
        transports: ["http2"],
      },
      { peer: String(listening.demoPeerPublicKey) },
    ),
  );
  await page.getByRole("button", { name: "Generate key pair" }).click();
  await connectTunnel(page, "Connected · WebSocket · MTU 1420");
  await openTab(page, "Status");
  const session = await page.getByTestId("session").textContent();
  expect(session).toContain("relay reports websocket");
  expect(session).toContain("HTTP/3 failed (WebTransport failed");
  const result = await ping(page, { destination: "10.99.0.1", count: 5, intervalMs: 100 });
  expect(result).toMatchObject({ transmitted: 5, received: 5 });
  expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
});
