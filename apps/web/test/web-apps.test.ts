/**
 * Real web apps from Debian's packages (Jupyter Notebook, Syncthing, Prometheus: see
 * test/helpers/web-apps.ts) in one namespace behind wireguard-go, one app process each for the
 * whole file. The baseline: each browser loads every app directly from the namespace's address
 * (the host reaches it over the test bridge), logs in where there is a login, and uses it. Then
 * through the tunnel (below).
 */
import { randomBytes } from "node:crypto";
import { generatePrivateKey, keyToBase64, nobleCrypto, publicKey } from "@wiregate/core";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dnsmasq, startDnsmasq } from "../../../test/helpers/dnsmasq.js";
import { startWireGuardPeer, type WireGuardPeer } from "../../../test/helpers/netns.js";
import { startWebApps, type WebApps } from "../../../test/helpers/web-apps.js";
import {
  BROWSERS,
  browsePageUrl,
  browser,
  CARRIAGES,
  type CarriageCase,
  connectTunnel,
  importConfig,
  newContext,
  open,
  type RunningRelay,
  screenshot,
  startRelay,
  type TestBrowser,
  type TestPage,
  watchErrors,
  wgQuickConfig,
  wgUpstream,
} from "./stack.js";
import {
  jupyterLogin,
  jupyterReady,
  jupyterRun,
  openInBrowseTab,
  pageView,
  prometheusQuery,
  syncthingRename,
} from "./web-apps.js";

/** The apps' address inside the tunnel (wireguard-go's). */
const APPS = "10.81.0.1";
const clientPrivate = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
const clientPublic = keyToBase64(publicKey(nobleCrypto, clientPrivate));

let peer: WireGuardPeer;
let apps: WebApps;
let dns: Dnsmasq;

beforeAll(async () => {
  peer = await startWireGuardPeer({
    addresses: ["10.81.0.1/24", "fd81::1/64"],
    peers: [{ publicKey: clientPublic, allowedIPs: ["10.81.0.2/32", "fd81::2/128"] }],
    logLevel: "error",
  });
  apps = await startWebApps(peer.ns);
  // The apps' names, answered inside the tunnel (the config's DNS line names this server).
  dns = await startDnsmasq(peer.ns, {
    names: {
      "jupyter.apps.wg.test": [APPS],
      "syncthing.apps.wg.test": [APPS],
      "prometheus.apps.wg.test": [APPS],
    },
    listen: [APPS],
  });
}, 120_000);

/** HTTP/3 (the stream carriage, what the page picks) and the WebSocket fallback. */
const TUNNEL_CARRIAGES = CARRIAGES.filter((c) => c.name !== "HTTP/3 datagrams");
/** One relay per carriage for the whole file, started when first used. */
const relays = new Map<string, Promise<RunningRelay>>();
const relayFor = (transport: CarriageCase) => {
  let relay = relays.get(transport.name);
  if (!relay) {
    relay = startRelay([wgUpstream(peer)], 0, transport.http3, true);
    relays.set(transport.name, relay);
  }
  return relay;
};

afterAll(async () => {
  for (const relay of await Promise.allSettled(relays.values()))
    if (relay.status === "fulfilled") await relay.value.stop();
  await dns?.stop();
  await apps?.stop();
  await peer?.stop();
});

describe.each(BROWSERS)("in %s", (name) => {
  let b: TestBrowser;
  beforeAll(async () => {
    b = await browser(name, undefined, [peer.underlayAddress]);
  });
  afterAll(async () => {
    await b?.close();
  });

  describe("loaded directly from the namespace (the baseline)", () => {
    const direct = (port: number) => `http://${peer.underlayAddress}:${port}`;

    it("Jupyter: password login, a cell runs over the kernel's WebSocket, the notebook is saved", {
      timeout: 120_000,
    }, async () => {
      const page = await (await newContext(b)).newPage();
      const view = pageView(page, direct(apps.jupyter.port));
      await jupyterLogin(view, apps);
      await jupyterRun(view, apps.jupyter, `direct, ${name}`);
      await screenshot(page, "app-jupyter-direct");
      await page.context().close();
    });

    it("Syncthing: the single-page app renames the device, and the server's config has it", {
      timeout: 120_000,
    }, async () => {
      const page = await (await newContext(b)).newPage();
      await syncthingRename(pageView(page, direct(apps.syncthing.port)), apps, `direct-${name}`);
      await screenshot(page, "app-syncthing-direct");
      await page.context().close();
    });

    it("Prometheus: a query on the classic page shows the series from /api/v1", {
      timeout: 120_000,
    }, async () => {
      const page = await (await newContext(b)).newPage();
      await prometheusQuery(pageView(page, direct(apps.prometheus.port)));
      await screenshot(page, "app-prometheus-direct");
      await page.context().close();
    });
  });

  /**
   * Through the tunnel: the page on its loopback listener (at wiregate.localhost), wireguard-go's
   * config imported with a DNS line naming dnsmasq in the namespace, each app reached by its name
   * (`jupyter.apps.wg.test`) through the tunnel's resolver, and opened from the Browse screen in a
   * new tab on its own origin (Jupyter refuses to be framed: `frame-ancestors 'self'`). On HTTP/3
   * (the stream carriage, what the page picks) and on the WebSocket fallback; one relay per
   * carriage for both browsers, one connected page per browser and carriage.
   */
  describe.each(TUNNEL_CARRIAGES)("through the tunnel over $name", (transport) => {
    let page: TestPage;
    let connected: Promise<void> | undefined;
    /** The page connected to wireguard-go (once per carriage: the first test does it). */
    const connect = () => {
      connected ??= (async () => {
        const relay = await relayFor(transport);
        page = await (await newContext(b, undefined, true)).newPage();
        await open(
          page,
          browsePageUrl(relay.address, { upstream: "wg", carriage: transport.carriage }),
        );
        const config = wgQuickConfig({
          privateKey: keyToBase64(clientPrivate),
          addresses: ["10.81.0.2/32", "fd81::2/128"],
          peerPublicKey: peer.publicKey,
          allowedIPs: ["10.81.0.0/24", "fd81::/64"],
        });
        // The tunnel's name server and search domain (wg-quick's DNS line).
        const named = config.replace("[Peer]", `DNS = ${APPS}, apps.wg.test\n\n[Peer]`);
        await importConfig(page, named, clientPublic);
        await connectTunnel(
          page,
          new RegExp(`^Connected · ${transport.badge.replace(/[()/]/g, "\\$&")}`),
        );
      })();
      return connected;
    };
    // The next carriage's page (and the next browser's) connects with the same key: this one
    // leaves first.
    afterAll(async () => {
      await page?.context().close();
    });

    const openInTab = async (host: string, port: number, path: string) => {
      await connect();
      return openInBrowseTab(page, host, port, path);
    };
    const shot = async (tab: TestPage, file: string) => {
      if (transport.name === "WebSocket") await screenshot(tab, file);
    };

    it("Jupyter: a cell runs over the kernel's WebSocket through the tunnel, and the notebook is saved", {
      timeout: 180_000,
    }, async () => {
      const { tab, view } = await openInTab(
        "jupyter.apps.wg.test",
        apps.jupyterOpen.port,
        `/notebooks/${apps.jupyterOpen.notebook}`,
      );
      const errors = watchErrors(tab);
      // The kernel's status comes over its WebSocket: through the shim, the tunnel worker's TCP.
      await jupyterReady(view);
      // The app's WebSocket is the shim, not the browser's own.
      expect(await tab.evaluate(() => String(WebSocket).includes("[native code]"))).toBe(false);
      await jupyterRun(view, apps.jupyterOpen, `tunnel, ${transport.name}, ${name}`);
      // The name was resolved inside the tunnel, by the namespace's dnsmasq.
      expect(dns.queries("jupyter.apps.wg.test")).toBeGreaterThan(0);
      await shot(tab, "app-jupyter-tunnel");
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
      await tab.close();
    });

    it("Jupyter: password login through the tunnel (session cookie, _xsrf), then a cell over the kernel's WebSocket", {
      timeout: 180_000,
    }, async () => {
      const { tab, view } = await openInTab("jupyter.apps.wg.test", apps.jupyter.port, "/login");
      await jupyterLogin(view, apps);
      await jupyterRun(view, apps.jupyter, `tunnel login, ${transport.name}, ${name}`);
      await shot(tab, "app-jupyter-login-tunnel");
      await tab.close();
    });

    // Syncthing's GUI answers any Host here: it checks Host (against DNS rebinding) only when it
    // listens on localhost, and one reached over a VPN does not.
    it("Syncthing: the single-page app renames the device through the tunnel (its CSRF cookie as a header), and the server's config has it", {
      timeout: 120_000,
    }, async () => {
      const { tab, view } = await openInTab("syncthing.apps.wg.test", apps.syncthing.port, "/");
      const device = `tunnel-${transport.http3 ? "http3" : "websocket"}-${name}`;
      await syncthingRename(view, apps, device, false);
      await shot(tab, "app-syncthing-tunnel");
      await tab.close();
    });

    it("Prometheus: a query on the classic page shows the series from /api/v1 through the tunnel", {
      timeout: 120_000,
    }, async () => {
      const { tab, view } = await openInTab(
        "prometheus.apps.wg.test",
        apps.prometheus.port,
        "/classic/graph",
      );
      await prometheusQuery(view);
      await shot(tab, "app-prometheus-tunnel");
      await tab.close();
    });

    // The page's heap does not keep the tabs it opened: a closed window of the page's own site
    // that the page still references keeps that window's whole heap alive (the Browse bridges
    // did, about 3.7 MB per Jupyter tab). One carriage: the page's code is the same on each.
    // Chromium only: the heap after a collection is DevTools' (CDP); WebDriver BiDi has no
    // measure of a page's heap.
    if (transport.http3 && name === "chromium")
      it("the Wiregate page's heap stays bounded while apps are opened in tabs and closed", {
        timeout: 180_000,
      }, async () => {
        const visit = async () => {
          const { tab, view } = await openInTab(
            "jupyter.apps.wg.test",
            apps.jupyterOpen.port,
            `/notebooks/${apps.jupyterOpen.notebook}`,
          );
          await jupyterReady(view);
          await tab.close();
        };
        await visit();
        const chromium = page as unknown as Page;
        const cdp = await chromium.context().newCDPSession(chromium);
        const heap = async () => {
          await cdp.send("HeapProfiler.collectGarbage");
          return (await cdp.send("Runtime.getHeapUsage")).usedSize;
        };
        const before = await heap();
        for (let i = 0; i < 6; i++) await visit();
        const after = await heap();
        console.info(`Wiregate page heap: ${before} → ${after} bytes after 6 more Jupyter tabs`);
        expect(after - before).toBeLessThan(4_000_000);
      });
  });
});
