/**
 * The stack the browser tests run against: the relay (in-process, serving the built page), the
 * embedded demo peer (on its own worker thread, as the relay's CLI runs it) behind a small UDP proxy that can hold one initiation (to make two
 * handshakes cross), and the browsers of `BROWSERS` (headless Chromium with loopback-only name
 * resolution, Firefox ESR) behind one page interface, so that a test is written once.
 */
import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatePrivateKey, keyToBase64, nobleCrypto, publicKey } from "@wiregate/core";
import { demoClientAddresses } from "@wiregate/packets";
import {
  DEFAULT_CONFIG,
  DemoPeerThread,
  mergeConfig,
  type PartialConfig,
  type RelayAddress,
  type RelayConfig,
  type UpstreamEntry,
} from "@wiregate/relay";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import {
  BROWSERS,
  type BrowserName,
  launchBrowser,
  launchChromium,
  type TestBrowser,
  type TestContext,
  type TestFrame,
  type TestLocator,
  type TestPage,
} from "../../../test/helpers/browser.js";
import type { WireGuardPeer } from "../../../test/helpers/netns.js";
import { startRelayWith } from "../../relay/test/helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
export const DIST = join(here, "..", "dist");
export const RESULTS = join(here, "..", "test-results");
export const TOKEN = "web-test-token-0123456789";

/**
 * The carriages every browser test runs on (describe.each): how the page's WireGuard messages reach
 * the relay. HTTP/3 with one message per datagram, HTTP/3 with every message on the message stream,
 * and the WebSocket fallback (a relay with HTTP/3 off) with the page's default carriage.
 */
export const CARRIAGES = [
  {
    name: "HTTP/3 datagrams",
    http3: true,
    carriage: "datagrams",
    badge: "WebTransport (HTTP/3)",
    relayReports: "http3",
  },
  {
    name: "HTTP/3 stream",
    http3: true,
    carriage: "stream",
    badge: "WebTransport (HTTP/3)",
    relayReports: "http3",
  },
  {
    name: "WebSocket",
    http3: false,
    carriage: "auto",
    badge: "WebSocket",
    relayReports: "websocket",
  },
] as const;
export type CarriageCase = (typeof CARRIAGES)[number];
/** The carriage the relay answers a case with (`auto` takes the stream). */
export const carriageInUse = (c: CarriageCase) =>
  c.carriage === "datagrams" ? "datagrams" : "stream";

export function requireBuild(): void {
  if (!existsSync(join(DIST, "index.html"))) {
    throw new Error("apps/web/dist is missing: run `npm run build -w @wiregate/web` first");
  }
}

const certDir = mkdtempSync(join(tmpdir(), "wiregate-web-test-"));

/** The relay's own options (e.g. a `logger` whose lines a test reads). */
export type RelayOptions = NonNullable<Parameters<typeof startRelayWith>[1]>;

export interface RunningRelay {
  relay: Awaited<ReturnType<typeof startRelayWith>>["relay"];
  address: RelayAddress;
  stop(): Promise<void>;
}

/**
 * HTTP/3 on: native WebTransport for the page; off: the page falls back to WebSocket. `localHttp`
 * adds the loopback plain-HTTP listener (see `localPageUrl`).
 */
export async function startRelay(
  upstreams: UpstreamEntry[],
  port = 0,
  http3 = false,
  localHttp = false,
  staticDir = DIST,
  limits: Partial<RelayConfig["limits"]> = {},
  /** More settings (e.g. `identity`), over the ones above. */
  more: PartialConfig = {},
  /** The relay's own options (e.g. a `logger` whose lines a test reads). */
  options: RelayOptions = {},
): Promise<RunningRelay> {
  const config = mergeConfig(DEFAULT_CONFIG, {
    host: "127.0.0.1",
    port,
    opsPort: null,
    http3,
    certDir,
    tokens: [TOKEN],
    staticDir,
    upstreams,
    localHttpPort: localHttp ? 0 : null,
    limits,
    ...more,
  });
  const { relay, address } = await startRelayWith(config, options);
  // What the relay's CLI publishes beside the page, ws:// fallback included.
  relay.publish("/wiregate.json", {
    relay: address.url,
    ...(address.localHttpUrl
      ? { websocket: new URL("/wiregate", address.localHttpUrl.replace(/^http/, "ws")).href }
      : {}),
    ...(config.browseDomain ? { browseDomain: config.browseDomain } : {}),
  });
  return { relay, address, stop: () => relay.stop(500) };
}

/**
 * The relay's upstream entry for a wireguard-go peer in a namespace (netns.ts): what the page asks
 * for with `upstream: "wg"`.
 */
export function wgUpstream(
  peer: Pick<WireGuardPeer, "underlayAddress" | "listenPort" | "publicKey">,
  name = "wg",
): UpstreamEntry {
  return { name, host: peer.underlayAddress, port: peer.listenPort, publicKey: peer.publicKey };
}

/** The relay's upstream entry for a demo peer (`DemoPeer`, `DemoPeerThread`) reached directly. */
export function demoUpstream(demo: {
  host: string;
  port: number;
  publicKey: string;
}): UpstreamEntry {
  return { name: "demo", host: demo.host, port: demo.port, publicKey: demo.publicKey };
}

/** Forwards UDP between the relay and the demo peer; one upstream socket per relay socket. */
export class HoldingProxy {
  readonly #front: Socket;
  readonly #backs = new Map<string, Socket>();
  #hold: ((release: () => void) => void) | undefined;
  #onServerInitiation: (() => void) | undefined;
  port = 0;

  private constructor(
    front: Socket,
    readonly target: { host: string; port: number },
  ) {
    this.#front = front;
  }

  static async start(target: { host: string; port: number }): Promise<HoldingProxy> {
    const front = createSocket("udp4");
    const proxy = new HoldingProxy(front, target);
    front.on("message", (message, from) =>
      proxy.#fromClient(message, `${from.address}:${from.port}`),
    );
    await new Promise<void>((resolve) => front.bind(0, "127.0.0.1", () => resolve()));
    proxy.port = front.address().port;
    return proxy;
  }

  /** Holds the next initiation from the client side and calls `onHeld(release)`. */
  holdNextClientInitiation(onHeld: (release: () => void) => void): void {
    this.#hold = onHeld;
  }

  /** Resolves when the next initiation from the demo peer has been forwarded to the client. */
  nextServerInitiation(): Promise<void> {
    return new Promise((resolve) => {
      this.#onServerInitiation = resolve;
    });
  }

  #fromClient(message: Buffer, key: string): void {
    let back = this.#backs.get(key);
    if (!back) {
      const socket = createSocket("udp4");
      const [host, port] = [
        key.slice(0, key.lastIndexOf(":")),
        Number(key.slice(key.lastIndexOf(":") + 1)),
      ];
      socket.on("message", (reply) => {
        this.#front.send(reply, port, host);
        if (reply[0] === 1) {
          const resolve = this.#onServerInitiation;
          this.#onServerInitiation = undefined;
          resolve?.();
        }
      });
      socket.bind(0, "127.0.0.1");
      this.#backs.set(key, socket);
      back = socket;
    }
    const forward = () => back.send(message, this.target.port, this.target.host);
    const hold = this.#hold;
    if (hold && message[0] === 1) {
      this.#hold = undefined;
      hold(forward);
      return;
    }
    forward();
  }

  close(): void {
    this.#front.close();
    for (const socket of this.#backs.values()) socket.close();
  }
}

export interface Stack {
  demo: DemoPeerThread;
  proxy: HoldingProxy;
  relay: RunningRelay;
  upstreams: UpstreamEntry[];
  http3: boolean;
  close(): Promise<void>;
}

/** A random key whose derived demo IPv4 address is that of `publicKey` (tens of thousands of tries). */
export function keyWithSameIpv4(publicKey: Uint8Array): Uint8Array {
  const { v4 } = demoClientAddresses(publicKey);
  for (;;) {
    const key = new Uint8Array(randomBytes(32));
    if (demoClientAddresses(key).v4 === v4) return key;
  }
}

/**
 * Lets the demo peer give each client its tunnel addresses through the relay (in the welcome), as
 * the relay's CLI does; the demo upstream is reached through the holding proxy at `port`.
 */
export function assignDemoAddresses(
  running: RunningRelay,
  demo: DemoPeerThread,
  port: number,
): RunningRelay {
  running.relay.upstreams.register(
    { name: "demo", host: "127.0.0.1", port, publicKey: demo.publicKey },
    demo,
  );
  return running;
}

export async function startStack(
  extra: UpstreamEntry[] = [],
  http3 = false,
  localHttp = false,
  limits: Partial<RelayConfig["limits"]> = {},
  more: PartialConfig = {},
  options: RelayOptions = {},
): Promise<Stack> {
  requireBuild();
  const demo = await DemoPeerThread.start();
  const proxy = await HoldingProxy.start({ host: demo.host, port: demo.port });
  const upstreams = [
    { name: "demo", host: "127.0.0.1", port: proxy.port, publicKey: demo.publicKey },
    ...extra,
  ];
  const stack: Stack = {
    demo,
    proxy,
    upstreams,
    http3,
    relay: assignDemoAddresses(
      await startRelay(upstreams, 0, http3, localHttp, DIST, limits, more, options),
      demo,
      proxy.port,
    ),
    async close() {
      await stack.relay.stop();
      proxy.close();
      await demo.close();
    },
  };
  return stack;
}

export {
  BROWSERS,
  type BrowserName,
  type TestBrowser,
  type TestFrame,
  type TestLocator,
  type TestPage,
};

/**
 * The browser `name` for the describe block this is called in: launched before its tests, closed
 * after them. `describe.each(BROWSERS)("in %s", (name) => { const b = useBrowser(name); … b() … })`.
 */
export function useBrowser(name: BrowserName, netLog?: string): () => TestBrowser {
  let launched: TestBrowser | undefined;
  beforeAll(async () => {
    launched = await browser(name, netLog);
  });
  afterAll(async () => {
    await launched?.close();
  });
  return () => {
    if (!launched) throw new Error(`${name} is not running: call useBrowser in a describe block`);
    return launched;
  };
}

/**
 * Why the page fell back to WebSocket when the relay has HTTP/3 off, in each browser. Chromium hears
 * that nothing listens on the UDP port (ICMP port unreachable) and gives up at once; Firefox's
 * WebTransport keeps trying until the page stops waiting, after 5 s.
 */
export const NO_HTTP3_REASON: Readonly<Record<BrowserName, string>> = {
  chromium: "HTTP/3 failed (WebTransport failed",
  firefox: "HTTP/3 failed (WebTransport ready took over 5000 ms)",
};

/**
 * A browser of `BROWSERS`. Chromium resolves nothing but loopback (and the addresses in
 * `reachable`, e.g. a test namespace's underlay), so no test can reach the
 * internet, and with `netLog` it records its network activity there (complete once the browser is
 * closed); Firefox starts with prefs that keep its own services off the network (firefox.ts).
 */
export function browser(
  name: BrowserName,
  netLog?: string,
  reachable: readonly string[] = [],
): Promise<TestBrowser> {
  return name === "firefox" ? launchBrowser("firefox") : chromiumBrowser(netLog, reachable);
}

/**
 * Chromium as above, with all of Playwright's API: for what only Chromium can do (say why).
 * `flags`: more command-line flags (a bench's).
 */
export function chromiumBrowser(
  netLog?: string,
  reachable: readonly string[] = [],
  flags: readonly string[] = [],
): Promise<Browser> {
  const exclude = ["localhost", "*.localhost", "127.0.0.1", ...reachable].map(
    (host) => `EXCLUDE ${host}`,
  );
  return launchChromium({
    extraArgs: [
      `--host-resolver-rules=MAP * ~NOTFOUND, ${exclude.join(", ")}`,
      ...(netLog ? [`--log-net-log=${netLog}`] : []),
      ...flags,
    ],
  });
}

/** Every host name or address in a Chromium NetLog's events (URLs, hosts, origins). */
export function hostsInNetLog(file: string): Set<string> {
  const events = JSON.parse(readFileSync(file, "utf8")).events as unknown[];
  const hosts = new Set<string>();
  // A wildcard such as `http://*.localhost:4480` in a logged header (the page's CSP naming the
  // Browse origins) is a pattern, not a host anything went to.
  const add = (host: string) => {
    if (host && !host.includes("*")) hosts.add(host);
  };
  const visit = (value: unknown, key: string): void => {
    if (typeof value === "string") {
      for (const match of value.matchAll(/\b(?:https?|wss?|quic):\/\/(\[[^\]]+\]|[^/:\s";,]+)/g))
        add(match[1]!);
      if (/^(host|hostname)$/.test(key))
        for (const host of value.split(/[;,\s]+/))
          add(host.replace(/^[a-z]+:\/\//, "").replace(/:\d+$/, ""));
    } else if (Array.isArray(value)) for (const item of value) visit(item, key);
    else if (value && typeof value === "object")
      for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  visit(events, "");
  return hosts;
}

/** `trustNothing`: for pages on the loopback plain-HTTP listener, which need no certificate. */
export function newContext(
  b: Browser,
  viewport?: { width: number; height: number },
  trustNothing?: boolean,
): Promise<BrowserContext>;
export function newContext(
  b: TestBrowser,
  viewport?: { width: number; height: number },
  trustNothing?: boolean,
): Promise<TestContext>;
export async function newContext(
  b: TestBrowser,
  viewport = { width: 1024, height: 900 },
  trustNothing = false,
): Promise<TestContext> {
  // On the TLS port the page comes with the relay's self-signed development certificate.
  return b.newContext({ ignoreHTTPSErrors: !trustNothing, viewport });
}

export function pageUrl(address: RelayAddress, query: Record<string, string>): string {
  const base = address.url.replace(/\/wiregate$/, "/");
  const certificateSha256 = Buffer.from(address.certificateSha256).toString("hex");
  const params = new URLSearchParams({
    relay: address.url,
    token: TOKEN,
    certificateSha256,
    ...query,
  });
  return `${base}index.html?${params}`;
}

/** The page on the relay's loopback plain-HTTP listener: a secure context with no certificate. */
export function localPageUrl(address: RelayAddress, query: Record<string, string>): string {
  if (!address.localHttpUrl) throw new Error("the relay was started without localHttp");
  const params = new URLSearchParams({
    relay: address.url,
    token: TOKEN,
    certificateSha256: Buffer.from(address.certificateSha256).toString("hex"),
    ...query,
  });
  return `${address.localHttpUrl}index.html?${params}`;
}

/**
 * The page as the loopback listener also serves it, at wiregate.localhost: there the Browse
 * screen's origins (`<target>.wiregate.localhost`) are of the page's own site, so a test context
 * (which, like an incognito window, blocks third-party storage) still gives them Service Workers.
 */
export function browsePageUrl(address: RelayAddress, query: Record<string, string>): string {
  const url = new URL(localPageUrl(address, query));
  url.hostname = "wiregate.localhost";
  return url.href;
}

/** The Browse origin of a target label (`v4-80-10-99-0-1`) for a page at `browsePageUrl`. */
export function browseOriginOf(pageUrl: string, label: string): string {
  return `http://${label}.wiregate.localhost:${new URL(pageUrl).port}`;
}

/** `name.png` for Chromium, `name-firefox.png` for Firefox. */
export async function screenshot(page: TestPage, name: string): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  const firefox = await page.evaluate(() => navigator.userAgent.includes("Firefox/"));
  const file = join(RESULTS, `${name}${firefox ? "-firefox" : ""}.png`);
  // The header is sticky: from the top, a full-page shot shows it where a user sees it.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export async function openTab(
  page: TestPage,
  name: "Connect" | "Status" | "Tools" | "Captures" | "Browse" | "TCP console",
) {
  await page.getByRole("tab", { name }).click();
}

/** Runs a ping from the Tools screen and returns the summary numbers. */
export async function ping(
  page: TestPage,
  options: {
    destination: string;
    count: number;
    intervalMs: number;
    /** ICMP payload bytes (the page's default is 56). */
    size?: number;
    timeoutMs?: number;
  },
): Promise<{ transmitted: number; received: number; rtt: string }> {
  await openTab(page, "Tools");
  await page.getByLabel("Destination").fill(options.destination);
  await page.getByLabel("Count").fill(String(options.count));
  await page.getByLabel("Interval (ms)").fill(String(options.intervalMs));
  await page.getByLabel("Payload (bytes)", { exact: true }).fill(String(options.size ?? 56));
  await page.getByRole("button", { name: "Start ping" }).click();
  await page.locator('[data-testid="ping-summary"][data-done="true"]').waitFor({
    timeout: options.timeoutMs ?? options.count * options.intervalMs + 10_000,
  });
  return {
    transmitted: Number(await page.getByTestId("transmitted").textContent()),
    received: Number(await page.getByTestId("received").textContent()),
    rtt: (await page.getByTestId("rtt").textContent()) ?? "",
  };
}

/** Collects the page's console errors and uncaught exceptions. */
export function watchErrors(page: TestPage): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (process.env.DBG) process.stderr.write(`[page ${message.type()}] ${message.text()}\n`);
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  return errors;
}

/**
 * Opens the page. Other tests on the machine create and delete network interfaces, which makes
 * Chromium abort a navigation with ERR_NETWORK_CHANGED now and then: try again.
 */
export async function open(page: TestPage, url: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(url);
      return;
    } catch (error) {
      if (attempt >= 5 || !/ERR_NETWORK_CHANGED/.test((error as Error).message)) throw error;
      await page.waitForTimeout(250);
    }
  }
}

/** A fresh WireGuard key pair for the page, both keys in base64 as a wg-quick config has them. */
export function pageKeyPair(): { privateKey: string; publicKey: string } {
  const privateKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
  return {
    privateKey: keyToBase64(privateKey),
    publicKey: keyToBase64(publicKey(nobleCrypto, privateKey)),
  };
}

/** The page's wg-quick config for one peer (e.g. a namespace's wireguard-go). */
export function wgQuickConfig(config: {
  privateKey: string;
  addresses: string[];
  peerPublicKey: string;
  allowedIPs: string[];
}): string {
  return [
    "[Interface]",
    `PrivateKey = ${config.privateKey}`,
    `Address = ${config.addresses.join(", ")}`,
    "",
    "[Peer]",
    `PublicKey = ${config.peerPublicKey}`,
    `AllowedIPs = ${config.allowedIPs.join(", ")}`,
    "",
  ].join("\n");
}

/**
 * Imports a wg-quick config through the Connect screen's file input, as a user importing a .conf
 * would, and waits until the page shows the config's public key (`publicKey`).
 */
export async function importConfig(page: TestPage, config: string, publicKey: string) {
  await page.getByLabel("Import a .conf file").setInputFiles({
    name: "wg0.conf",
    mimeType: "text/plain",
    buffer: Buffer.from(config),
  });
  await expect.poll(() => page.getByTestId("public-key").inputValue()).toBe(publicKey);
}

/**
 * Opens the page on the relay's `wg` upstream (a namespace's wireguard-go) on `carriage` (the
 * page's default if none) and imports the client's wg-quick config for that peer, as a user would.
 */
export async function openForPeer(
  page: TestPage,
  address: RelayAddress,
  options: {
    client: { privateKey: string; publicKey: string };
    peerPublicKey: string;
    addresses: string[];
    allowedIPs: string[];
    carriage?: CarriageCase["carriage"];
  },
): Promise<void> {
  const { client, carriage, ...peer } = options;
  await open(page, browsePageUrl(address, { upstream: "wg", ...(carriage ? { carriage } : {}) }));
  await importConfig(
    page,
    wgQuickConfig({ privateKey: client.privateKey, ...peer }),
    client.publicKey,
  );
}

/**
 * Presses Connect and waits until the badge says `expected` (a string: exactly; by default any
 * "Connected …"); returns the badge's text.
 */
export async function connectTunnel(
  page: TestPage,
  expected: string | RegExp = /^Connected/,
  timeout = 20_000,
): Promise<string> {
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  const badge = page.getByTestId("badge");
  const shown = expect.poll(() => badge.textContent(), { timeout });
  await (typeof expected === "string" ? shown.toBe(expected) : shown.toMatch(expected));
  return (await badge.textContent()) ?? "";
}

/**
 * Records every Content-Security-Policy violation the page's documents report (workers' too, as
 * events on the document), for `cspViolations`. Playwright only (an init script): Chromium.
 */
export async function recordCspViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (event) => {
      seen.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
}

/** The violations `recordCspViolations` saw in the current document: "directive blocked-URI". */
export function cspViolations(page: TestPage): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
}
