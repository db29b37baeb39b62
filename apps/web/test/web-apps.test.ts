/**
 * Real web apps from Debian's packages (Jupyter Notebook, Syncthing, Prometheus: see
 * test/helpers/web-apps.ts) in one namespace behind wireguard-go, one app process each for the
 * whole file. The baseline: each browser loads every app directly from the namespace's address
 * (the host reaches it over the test bridge), logs in where there is a login, and uses it.
 */
import { randomBytes } from "node:crypto";
import { generatePrivateKey, keyToBase64, nobleCrypto, publicKey } from "@wiregate/core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { startWireGuardPeer, type WireGuardPeer } from "../../../test/helpers/netns.js";
import { startWebApps, type WebApps } from "../../../test/helpers/web-apps.js";
import { BROWSERS, browser, newContext, screenshot, type TestBrowser } from "./stack.js";
import {
  jupyterLogin,
  jupyterRun,
  pageView,
  prometheusQuery,
  syncthingRename,
} from "./web-apps.js";

const clientPrivate = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
const clientPublic = keyToBase64(publicKey(nobleCrypto, clientPrivate));

let peer: WireGuardPeer;
let apps: WebApps;

beforeAll(async () => {
  peer = await startWireGuardPeer({
    addresses: ["10.81.0.1/24", "fd81::1/64"],
    peers: [{ publicKey: clientPublic, allowedIPs: ["10.81.0.2/32", "fd81::2/128"] }],
    logLevel: "error",
  });
  apps = await startWebApps(peer.ns);
}, 120_000);

afterAll(async () => {
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
      await jupyterRun(view, apps, `direct, ${name}`);
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
});
