/**
 * What a newcomer gets from `npm start`: the URL it prints opens in a browser (Chromium, Firefox
 * ESR) that trusts nothing
 * extra (no `ignoreHTTPSErrors`, no certificate flag) and connects. The page comes over plain HTTP
 * on loopback, a secure context; the tunnel goes over HTTP/3 with the development certificate's
 * hash, or, with HTTP/3 unavailable, over WebSocket on that same loopback listener (ws://). And
 * the demo peer's own name, demo.wiregate, resolves through the tunnel with a generated config. The
 * URL is the page at wiregate.localhost, where Browse works in a browser that blocks third-party
 * storage; the page connects the same at the loopback address `npm start` also prints.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browse, inFrame } from "./browse-screen.js";
import {
  BROWSERS,
  browser,
  connectTunnel,
  NO_HTTP3_REASON,
  open,
  openTab,
  ping,
  requireBuild,
  type TestBrowser,
  type TestPage,
  watchErrors,
} from "./stack.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

interface Started {
  child: ChildProcess;
  output: string;
  /** The URL printed after "Web client:". */
  webClient: string;
  stop(): Promise<void>;
}

/** `npm start` with extra relay flags, until it prints the web client's URL. */
function npmStart(flags: string[]): Promise<Started> {
  const child = spawn(process.execPath, [join(root, "scripts/start.mjs"), ...flags], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`npm start exited (${code}):\n${output}`)));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const url = /^Web client: +(\S+)$/m.exec(output)?.[1];
      // The line after the certificate hash says whether the browser will warn.
      if (url && /^Certificate SHA-256 .*\n.+\n/m.test(output))
        resolve({
          child,
          output,
          webClient: url,
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
          },
        });
    });
  });
}

const CASES = [
  {
    name: "HTTP/3",
    flags: [],
    badge: "WebTransport (HTTP/3)",
    relayReports: "http3",
    why: { chromium: "HTTP/3 reached the relay", firefox: "HTTP/3 reached the relay" },
  },
  {
    name: "HTTP/3 unavailable: WebSocket on the loopback listener",
    flags: ["--no-http3"],
    badge: "WebSocket",
    relayReports: "websocket",
    why: NO_HTTP3_REASON,
  },
] as const;

const browsers = new Map<string, TestBrowser>();
let certDir: string;

beforeAll(async () => {
  requireBuild();
  certDir = mkdtempSync(join(tmpdir(), "wiregate-first-run-"));
  for (const name of BROWSERS) browsers.set(name, await browser(name));
}, 120_000);

afterAll(async () => {
  for (const b of browsers.values()) await b.close();
  rmSync(certDir, { recursive: true, force: true });
});

describe.each(CASES)("npm start, then the printed URL ($name)", (transport) => {
  let started: Started;

  beforeAll(async () => {
    const flags = ["--port=0", "--local-http-port=0", "--ops-port=off", `--cert-dir=${certDir}`];
    // Port 0 picks a free TCP port; HTTP/3 takes the same number on UDP, which another process
    // may hold. That is no failure of the first run: start again (it says so when it happens).
    for (let attempt = 1; ; attempt++) {
      started = await npmStart([...flags, ...transport.flags]);
      const offered = /^WebTransport: .*\((.*)\)$/m.exec(started.output)?.[1] ?? "";
      if (transport.flags.length > 0 || offered.includes("http3")) break;
      await started.stop();
      if (attempt === 3 || !/did not start on UDP port/.test(started.output))
        throw new Error(`HTTP/3 did not come up:\n${started.output}`);
    }
  }, 180_000);

  afterAll(async () => {
    await started?.stop();
  });

  it("prints a plain-HTTP loopback URL, at the name Browse needs, and says why there is no warning", () => {
    // wiregate.localhost: the Browse screen's origins are then of the page's own site, which a
    // browser that blocks third-party storage requires (the test's Chromium contexts do).
    expect(started.webClient).toMatch(/^http:\/\/wiregate\.localhost:\d+\/$/);
    const port = new URL(started.webClient).port;
    expect(started.output).toContain(`(also http://127.0.0.1:${port}/, where Browse may not work`);
    expect(started.output).toContain("no certificate warning");
    expect(started.output).not.toContain("accept it");
  });

  describe.each(BROWSERS)("in %s", (name) => {
    let page: TestPage;

    beforeAll(async () => {
      // No ignoreHTTPSErrors, and the browser was launched without any certificate flag.
      page = await (await browsers.get(name)!.newContext()).newPage();
    });

    afterAll(async () => {
      await page?.context().close();
    });

    it("opens the page with no certificate to accept, connects and pings the demo peer", async () => {
      const errors = watchErrors(page);
      await open(page, started.webClient);
      expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
      await page.getByRole("button", { name: "Generate key pair" }).click();
      const badge = page.getByTestId("badge");
      await connectTunnel(page);
      await openTab(page, "Status");
      const session = await page.getByTestId("session").textContent();
      expect(await badge.textContent(), `${session}`).toBe(
        `Connected · ${transport.badge} · MTU 1420`,
      );
      expect(session).toContain(`relay reports ${transport.relayReports}`);
      expect(session).toContain(transport.why[name]);
      // A newcomer gets the default carriage: the page asks for auto, the relay takes the stream.
      expect(session).toContain("Carriagestream");
      expect(await page.getByTestId("carriage").textContent()).toMatch(
        /^Carriage: stream — auto: /,
      );
      const result = await ping(page, { destination: "10.99.0.1", count: 5, intervalMs: 100 });
      expect(result).toMatchObject({ transmitted: 5, received: 5 });
      // Out of the box the demo peer's own name resolves: the generated config's DNS line (from
      // the relay's wiregate.json) names the demo peer, which answers for demo.wiregate.
      await openTab(page, "Tools");
      await page.getByLabel("Name to resolve").fill("demo.wiregate");
      await page.getByRole("button", { name: "Resolve" }).click();
      await expect
        .poll(() => page.getByTestId("resolved-address").allTextContents(), { timeout: 15_000 })
        .toEqual(["10.99.0.1 · TTL 300 s", "fd99::1 · TTL 300 s"]);
      // And Browse works at the printed URL: the demo peer's page, by name, on its own origin.
      const frame = await browse(page, "http://demo.wiregate/", "dn-80-demo-wiregate");
      await expect
        .poll(() => inFrame(frame, () => document.querySelector("h1")?.textContent), {
          timeout: 20_000,
        })
        .toBe("You are inside the tunnel");
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    });

    it("connects the same when opened at the loopback address instead of the printed name", async () => {
      const local = await (await browsers.get(name)!.newContext()).newPage();
      try {
        await open(local, started.webClient.replace("wiregate.localhost", "127.0.0.1"));
        await local.getByRole("button", { name: "Generate key pair" }).click();
        const badge = local.getByTestId("badge");
        await connectTunnel(local);
        expect(await badge.textContent()).toBe(`Connected · ${transport.badge} · MTU 1420`);
        const result = await ping(local, { destination: "10.99.0.1", count: 1, intervalMs: 100 });
        expect(result.received).toBe(1);
      } finally {
        await local.context().close();
      }
    });
  });
});
