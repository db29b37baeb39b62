/** The page: four screens over one tunnel worker. */
import "./style.css";
import { formatRelayLines, parseRelayList } from "@wiregate/relay-protocol";
import { TunnelClient } from "./client.js";
import { h } from "./dom.js";
import { browseScreen, startBrowsing } from "./screens/browse.js";
import { capturesScreen } from "./screens/captures.js";
import { connectScreen, type Defaults, describeState } from "./screens/connect.js";
import { consoleScreen } from "./screens/console.js";
import { sshScreen } from "./screens/ssh.js";
import { statusScreen } from "./screens/status.js";
import { toolsScreen } from "./screens/tools.js";

/** Long main-thread tasks, for the benchmark and for anyone curious (window.wiregateLongTasks). */
const longTasks: number[] = [];
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push(entry.duration);
  }).observe({ type: "longtask", buffered: true });
} catch {
  // Not supported in this browser.
}
(globalThis as { wiregateLongTasks?: number[] }).wiregateLongTasks = longTasks;

/** wiregate.json's `relays` in the Connect screen's form (one per line); bad ones as they are. */
function servedRelays(relays: unknown): string {
  if (relays === undefined) return "";
  const result = parseRelayList(relays);
  return result.ok ? formatRelayLines(result.relays) : `# wiregate.json: ${result.error}`;
}

async function defaults(): Promise<Defaults & { browseDomain: string }> {
  const query = new URLSearchParams(location.search);
  // A relay serving this page can put its own defaults beside it (wiregate.json); optional.
  let served: Partial<Defaults> = {};
  try {
    const response = await fetch("./wiregate.json", { cache: "no-store" });
    if (response.ok) served = (await response.json()) as Partial<Defaults>;
  } catch {
    // Not served: fine.
  }
  const sameOrigin = location.protocol === "https:" ? `${location.origin}/wiregate` : "";
  const pick = (key: keyof Defaults, fallback = "") =>
    query.get(key) ?? (typeof served[key] === "string" ? served[key] : fallback);
  return {
    // The fleet: one relay per line in the query string, an array in wiregate.json.
    relays: query.get("relays") ?? servedRelays((served as { relays?: unknown }).relays),
    relay: pick("relay", sameOrigin || "https://127.0.0.1:4433/wiregate"),
    token: pick("token"),
    upstream: pick("upstream", "demo"),
    peerPublicKey: pick("peerPublicKey") || (query.get("peer") ?? ""),
    certificateSha256: pick("certificateSha256"),
    websocket: pick("websocket"),
    carriage: pick("carriage"),
    dns: pick("dns"),
    // A public relay's Browse domain: from the relay serving this page only, never the query
    // string (the page hands tunnel ports to the bridges of the origins under it).
    browseDomain:
      typeof (served as { browseDomain?: unknown }).browseDomain === "string"
        ? (served as { browseDomain: string }).browseDomain
        : "",
  };
}

async function start(): Promise<void> {
  const client = new TunnelClient();
  const settings = await defaults();
  const browsing = startBrowsing(client, settings.browseDomain);
  const ssh = sshScreen(client);
  const screens: { id: string; label: string; element: HTMLElement; show?: () => void }[] = [
    { id: "connect", label: "Connect", element: connectScreen(client, settings) },
    { id: "status", label: "Status", element: statusScreen(client) },
    { id: "tools", label: "Tools", element: toolsScreen(client, "10.99.0.1") },
    { id: "browse", label: "Browse", element: browseScreen(browsing, "http://10.99.0.1/") },
    { id: "console", label: "TCP console", element: consoleScreen(client) },
    { id: "ssh", label: "SSH", element: ssh.element, show: ssh.show },
    { id: "captures", label: "Captures", element: capturesScreen() },
  ];
  const badge = h("p", {
    class: "badge",
    role: "status",
    "aria-live": "polite",
    "data-testid": "badge",
  });
  describeState(client, badge);

  const tabs = screens.map((screen, index) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${screen.id}`,
        "aria-controls": `panel-${screen.id}`,
        "aria-selected": index === 0 ? "true" : "false",
        tabindex: index === 0 ? "0" : "-1",
      },
      screen.label,
    ),
  );
  const panels = screens.map((screen, index) =>
    h(
      "div",
      {
        role: "tabpanel",
        id: `panel-${screen.id}`,
        "aria-labelledby": `tab-${screen.id}`,
        hidden: index !== 0,
      },
      screen.element,
    ),
  );
  const select = (index: number, focus = false) => {
    tabs.forEach((tab, i) => {
      tab.setAttribute("aria-selected", String(i === index));
      tab.tabIndex = i === index ? 0 : -1;
      panels[i]!.hidden = i !== index;
    });
    if (focus) tabs[index]!.focus();
    screens[index]!.show?.();
    history.replaceState(null, "", `#${screens[index]!.id}`);
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(index));
    // Arrow keys move between tabs (WAI-ARIA tabs pattern).
    tab.addEventListener("keydown", (event) => {
      const delta = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (delta === 0) return;
      event.preventDefault();
      select((index + delta + tabs.length) % tabs.length, true);
    });
  });
  const initial = screens.findIndex((s) => `#${s.id}` === location.hash);
  if (initial > 0) select(initial);

  document.body.append(
    h(
      "header",
      {},
      h("h1", {}, "Wiregate"),
      badge,
      h("nav", { role: "tablist", "aria-label": "Screens" }, tabs),
    ),
    h("main", {}, panels),
  );
}

void start();
