/**
 * Browse: web apps that exist only inside the tunnel. Each server (host and port) is shown on an
 * origin of its own (`http://<target>.localhost:4480/`, see browse/target.ts), whose Service Worker
 * sends every request through the tunnel (browse/bridges.ts): the shown app's scripts run, in
 * their own origin, and cannot reach this page, its storage or its tunnel.
 */

import { BrowseBridges } from "../browse/bridges.js";
import {
  crossSite,
  loopbackOriginBase,
  PAGE_NAME,
  parseAddress,
  publicOriginBase,
  type Target,
  targetOfOrigin,
  targetOrigin,
} from "../browse/target.js";
import type { TunnelClient } from "../client.js";
import { h, replace } from "../dom.js";

/** The bridges, or why Browse cannot work on this page. */
export function startBrowsing(client: TunnelClient, browseDomain = ""): BrowseBridges | string {
  if (!("serviceWorker" in navigator))
    return "This browser gives pages no Service Worker here, so Browse cannot work.";
  const base = loopbackOriginBase(location) ?? publicOriginBase(location, browseDomain);
  if (!base)
    return "Browse needs the page from the relay's loopback listener (http://wiregate.localhost:4480/, what `npm start` prints), or from a relay with a Browse domain (--browse-domain): each web server inside the tunnel is shown on an origin of its own.";
  return new BrowseBridges(client, base, document.body);
}

const CANNOT = [
  "HTTPS inside the tunnel (the browser cannot do TLS over our TCP).",
  "Links that name a server inside the tunnel by its address (http://10.0.0.5/) leave the tunnel; redirects to it are moved onto its own origin.",
  "Cookies last as long as this page: reloading it logs you out of the apps.",
  "Apps whose Content-Security-Policy refuses their own origin's scripts lose the injected cookie and WebSocket shims.",
  "The app's own paths under /__wiregate/ (the bridge's).",
  "Apps that refuse to be framed (X-Frame-Options, frame-ancestors): use “Open in new tab”.",
  "A new tab works while this page stays open and connected.",
  "WebSockets to wss:// addresses of the shown server (no TLS inside the tunnel; ws:// works), and WebSocket compression (permessage-deflate is not offered).",
];

export function browseScreen(bridges: BrowseBridges | string, defaultUrl: string): HTMLElement {
  const address = h("input", {
    type: "text",
    value: defaultUrl,
    "aria-label": "Web address inside the tunnel",
    autocomplete: "off",
    class: "browse-address",
  });
  const message = h("p", { class: "note", "data-testid": "browse-message", "aria-live": "polite" });
  const shownOn = h("p", { class: "note", "data-testid": "browse-origin" });
  const frame = h("iframe", {
    title: "Page inside the tunnel",
    "data-testid": "browse-frame",
    // A cross-origin frame: its own origin (allow-same-origin keeps it, so its Service Worker
    // and storage work) and scripts, but no navigating this page away and no downloads.
    sandbox:
      "allow-scripts allow-same-origin allow-forms allow-modals allow-popups allow-popups-to-escape-sandbox",
    class: "browse-frame",
  }) as HTMLIFrameElement;
  const back = h("button", { type: "button", "aria-label": "Back", disabled: true }, "←");
  const forward = h("button", { type: "button", "aria-label": "Forward", disabled: true }, "→");
  const reload = h("button", { type: "button", "aria-label": "Reload", disabled: true }, "⟳");
  const newTab = h("button", { type: "button", disabled: true }, "Open in new tab");

  /** What the frame has shown (target URLs as typed), and where in that list it is. */
  const visited: string[] = [];
  let at = -1;
  let current: { target: Target; url: string } | undefined;
  const buttons = () => {
    back.disabled = at <= 0;
    forward.disabled = at >= visited.length - 1;
    reload.disabled = newTab.disabled = current === undefined;
  };

  /** Shows `input` in the frame; `fromHistory`: back/forward/reload, which keep the list. */
  const show = async (input: string, fromHistory = false) => {
    if (typeof bridges === "string") {
      replace(message, bridges);
      return;
    }
    const parsed = parseAddress(input);
    if ("error" in parsed) {
      replace(message, parsed.error);
      return;
    }
    const origin = bridges.origin(parsed.target);
    replace(message, "Starting this server's origin…");
    try {
      await bridges.ready(parsed.target);
    } catch (e) {
      const why = (e as Error).message;
      const here = `${location.protocol}//${PAGE_NAME}${location.port ? `:${location.port}` : ""}/`;
      replace(
        message,
        `The browser refused ${origin} a Service Worker (${why}). `,
        crossSite(bridges.base)
          ? h(
              "span",
              {},
              "Browse origins are another site than this page here, and this browser blocks third-party storage: open Wiregate at ",
              h("a", { href: here }, here),
              ", where they are of the page's own site.",
            )
          : null,
      );
      return;
    }
    replace(message);
    replace(shownOn, "Shown on its own origin: ", h("code", {}, origin));
    current = { target: parsed.target, url: `${origin}${parsed.path}` };
    address.value = `${targetOrigin(parsed.target)}${parsed.path}`;
    if (!fromHistory) {
      visited.splice(at + 1, visited.length, address.value);
      at = visited.length - 1;
    }
    buttons();
    frame.src = current.url;
  };

  if (typeof bridges !== "string") {
    bridges.allow(() => frame.contentWindow);
    // Pages shown say where they are (inject.js): the address bar follows links and redirects.
    window.addEventListener("message", (event) => {
      const data = event.data as { type?: unknown; path?: unknown } | null;
      if (data?.type !== "wiregate-location" || event.source !== frame.contentWindow) return;
      const target = targetOfOrigin(bridges.base, event.origin);
      if (!target || typeof data.path !== "string" || !data.path.startsWith("/")) return;
      const url = `${targetOrigin(target)}${data.path}`;
      current = { target, url: `${event.origin}${data.path}` };
      replace(shownOn, "Shown on its own origin: ", h("code", {}, event.origin));
      address.value = url;
      if (visited[at] !== url) {
        visited.splice(at + 1, visited.length, url);
        at = visited.length - 1;
      }
      buttons();
    });
  }
  back.addEventListener("click", () => {
    if (at > 0) void show(visited[--at]!, true);
  });
  forward.addEventListener("click", () => {
    if (at < visited.length - 1) void show(visited[++at]!, true);
  });
  reload.addEventListener("click", () => {
    if (current) frame.src = current.url;
  });
  newTab.addEventListener("click", () => {
    if (!current || typeof bridges === "string") return;
    // Not noopener: the tab asks this page (its opener) for its tunnel port.
    const tab = window.open(current.url, "_blank");
    if (tab) bridges.allow(() => tab);
    else replace(message, "The browser blocked the new tab.");
  });

  return h(
    "section",
    { class: "stack" },
    h(
      "form",
      {
        class: "row browse-bar",
        onsubmit: (event: Event) => {
          event.preventDefault();
          void show(address.value.trim());
        },
      },
      back,
      forward,
      reload,
      address,
      h("button", { type: "submit", class: "primary" }, "Go"),
      newTab,
    ),
    shownOn,
    message,
    frame,
    h(
      "details",
      { open: true },
      h("summary", {}, "What cannot work"),
      h(
        "ul",
        {},
        CANNOT.map((line) => h("li", {}, line)),
      ),
    ),
  );
}
