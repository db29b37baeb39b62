/** Connect: relay, token, upstream, a wg-quick config (imported, pasted or generated), connect. */
import {
  formatCidr,
  formatIp,
  formatWgQuickConfigError,
  generatePrivateKey,
  keyFromBase64,
  keyToBase64,
  nobleCrypto,
  parseDnsEntry,
  parseWgQuickConfig,
  publicKey,
  type WgQuickConfig,
} from "@wiregate/core";
import { DEMO_SERVER_V4, DEMO_SERVER_V6, demoClientAddresses } from "@wiregate/packets";
import {
  CARRIAGE_CHOICES,
  type CarriageChoice,
  parseRelayLines,
  type RelayListEntry,
} from "@wiregate/relay-protocol";
import type { TunnelClient } from "../client.js";
import { field, h, replace } from "../dom.js";
import type { ConnectSettings, DnsSettings, RelayTarget } from "../protocol.js";
import { forgetSaved, loadSaved, type SavedSettings, save } from "../storage.js";

export interface Defaults {
  relay: string;
  token: string;
  upstream: string;
  /** Public key of the upstream's WireGuard peer, when known (for generated configs). */
  peerPublicKey: string;
  /** Hex SHA-256 of the relay certificate (native WebTransport with a self-signed certificate). */
  certificateSha256: string;
  /** The serving relay's plain WebSocket (ws://) on loopback, from its wiregate.json; or "". */
  websocket: string;
  /** The carriage to ask the relay for: "datagrams", "stream" or "auto" (anything else: auto). */
  carriage: string;
  /** Other relays of the fleet, one per line (`NAME URL [SHA256]`); "" for one relay. */
  relays: string;
  /** The DNS line of generated configs (e.g. the demo peer's address, which answers DNS); or "". */
  dns: string;
}

/** The page asks for `auto` unless told otherwise: the relay picks (docs/web.md, "Carriage"). */
export const DEFAULT_CARRIAGE: CarriageChoice = "auto";

const CARRIAGE_LABELS: Record<CarriageChoice, string> = {
  auto: "auto (the relay picks)",
  stream: "stream (every message on one reliable stream)",
  datagrams: "datagrams (one message per datagram)",
};

function hexToBytes(hex: string): Uint8Array | undefined {
  const clean = hex.replace(/[^0-9a-f]/gi, "");
  if (clean.length !== 64) return undefined;
  return Uint8Array.from(clean.match(/../g)!.map((b) => Number.parseInt(b, 16)));
}

function targetOf(entry: RelayListEntry): RelayTarget {
  const hash = entry.certificateSha256 ? hexToBytes(entry.certificateSha256) : undefined;
  return { name: entry.name, url: entry.url, ...(hash ? { certificateHash: hash } : {}) };
}

/**
 * The tunnel's DNS from a wg-quick `DNS =` value (servers and search domains, comma-separated),
 * or an error naming the entry that is neither.
 */
export function parseDnsField(text: string): DnsSettings | { error: string } {
  const dns: DnsSettings = { servers: [], search: [] };
  for (const entry of text.split(",").map((e) => e.trim())) {
    if (!entry) continue;
    const parsed = parseDnsEntry(entry);
    if (!parsed.ok) return { error: `DNS: ${parsed.error}` };
    if ("server" in parsed.value) dns.servers.push(formatIp(parsed.value.server));
    else dns.search.push(parsed.value.search);
  }
  return dns;
}

export function generatedConfig(peerPublicKey: string, dns = ""): string {
  const privateKey = generatePrivateKey((n) => crypto.getRandomValues(new Uint8Array(n)));
  const { v4, v6 } = demoClientAddresses(publicKey(nobleCrypto, privateKey));
  return [
    "[Interface]",
    `PrivateKey = ${keyToBase64(privateKey)}`,
    `Address = ${v4}/32, ${v6}/128`,
    ...(dns ? [`DNS = ${dns}`] : []),
    "",
    "[Peer]",
    `PublicKey = ${peerPublicKey || "<public key of the upstream peer>"}`,
    `AllowedIPs = ${DEMO_SERVER_V4}/32, ${DEMO_SERVER_V6}/128`,
    "",
  ].join("\n");
}

export function connectScreen(client: TunnelClient, defaults: Defaults): HTMLElement {
  const relay = h("input", { type: "url", value: defaults.relay, autocomplete: "off" });
  const token = h("input", { type: "password", value: defaults.token, autocomplete: "off" });
  const upstream = h("input", { type: "text", value: defaults.upstream, autocomplete: "off" });
  const peerKey = h("input", {
    type: "text",
    value: defaults.peerPublicKey,
    autocomplete: "off",
    spellcheck: "false",
  });
  const certHash = h("input", {
    type: "text",
    value: defaults.certificateSha256,
    autocomplete: "off",
    spellcheck: "false",
  });
  const relays = h("textarea", {
    rows: 3,
    spellcheck: "false",
    autocomplete: "off",
    "data-testid": "relays",
  });
  relays.value = defaults.relays;
  const config = h("textarea", { rows: 9, spellcheck: "false", "data-testid": "config" });
  const dns = h("input", {
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "from the config's DNS line",
  });
  const file = h("input", { type: "file", accept: ".conf,text/plain" });
  const ownKey = h("input", { type: "text", readonly: true, "data-testid": "public-key" });
  const remember = h("input", { type: "checkbox", id: "remember" });
  const message = h("p", { class: "message", role: "status", "aria-live": "polite" });
  const carriage = h(
    "select",
    {},
    ...CARRIAGE_CHOICES.map((choice) => h("option", { value: choice }, CARRIAGE_LABELS[choice])),
  );
  carriage.value = CARRIAGE_CHOICES.includes(defaults.carriage as CarriageChoice)
    ? defaults.carriage
    : DEFAULT_CARRIAGE;
  /** Which carriage the session uses and why, once connected. */
  const inUse = h("p", { class: "muted", "data-testid": "carriage", "aria-live": "polite" });
  const connect = h("button", { type: "submit", class: "primary" }, "Connect");
  const disconnect = h("button", { type: "button", disabled: true }, "Disconnect");

  const parsed = (): { config?: WgQuickConfig; error?: string } => {
    const result = parseWgQuickConfig(config.value);
    if (!result.ok) return { error: result.errors.map(formatWgQuickConfigError).join("; ") };
    if (result.config.peers.length === 0) return { error: "the config has no [Peer]" };
    return { config: result.config };
  };

  const showOwnKey = () => {
    const result = parseWgQuickConfig(config.value);
    ownKey.value = result.ok
      ? keyToBase64(publicKey(nobleCrypto, result.config.interface.privateKey))
      : "";
  };
  config.addEventListener("input", showOwnKey);

  const generate = () => {
    const existing = parseWgQuickConfig(config.value);
    const known =
      peerKey.value.trim() ||
      (existing.ok && existing.config.peers[0]
        ? keyToBase64(existing.config.peers[0].publicKey)
        : "");
    config.value = generatedConfig(known, defaults.dns);
    showOwnKey();
    message.textContent =
      "New key pair generated in this page. Addresses follow the demo peer's scheme; edit them for your own upstream.";
  };

  file.addEventListener("change", async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    config.value = await chosen.text();
    showOwnKey();
    message.textContent = `Loaded ${chosen.name}.`;
  });

  const copy = h(
    "button",
    {
      type: "button",
      onclick: () => {
        if (ownKey.value) void navigator.clipboard?.writeText(ownKey.value);
        message.textContent = "Public key copied.";
      },
    },
    "Copy",
  );

  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const state = client.state;
        if (state.phase === "failed" && state.code === "token-expired" && token.value) {
          // Same tunnel, same keys: only the token is new.
          message.textContent = "";
          client.send({ type: "token", token: token.value });
          return;
        }
        const { config: wg, error } = parsed();
        if (!wg) {
          message.textContent = `Config: ${error}`;
          return;
        }
        if (!/^https:\/\//.test(relay.value)) {
          message.textContent = "Relay URL must start with https://";
          return;
        }
        const peer = wg.peers[0]!;
        // The field, when filled in, replaces the config's DNS line.
        const names = dns.value.trim()
          ? parseDnsField(dns.value)
          : {
              servers: wg.interface.dns.map((a) => formatIp(a)),
              search: wg.interface.dnsSearch,
            };
        if ("error" in names) {
          message.textContent = names.error;
          return;
        }
        const fleet = parseRelayLines(relays.value);
        if (!fleet.ok) {
          message.textContent = `More relays: ${fleet.error}`;
          return;
        }
        const url = relay.value.trim();
        // The relay URL may be one of the list too (wiregate.json names the whole fleet).
        const self = fleet.relays.find((r) => r.url === url);
        const moreRelays = fleet.relays.filter((r) => r !== self).map(targetOf);
        const hash = certHash.value.trim()
          ? hexToBytes(certHash.value)
          : self && targetOf(self).certificateHash;
        if (certHash.value.trim() && !hash) {
          message.textContent = "Certificate SHA-256 must be 64 hex digits";
          return;
        }
        // A page served over plain HTTP on loopback falls back to its relay's WebSocket there
        // (ws://): the wss:// at the relay URL would need a certificate the browser trusts. Under
        // the name the page was opened with (localhost or an address), so it stays same-origin.
        let websocketUrl: string | undefined;
        if (location.protocol === "http:" && defaults.websocket && relay.value === defaults.relay) {
          const url = new URL(defaults.websocket);
          url.host = location.host;
          websocketUrl = url.href;
        }
        const settings: ConnectSettings = {
          url,
          ...(self ? { name: self.name } : {}),
          ...(moreRelays.length > 0 ? { moreRelays } : {}),
          upstream: upstream.value.trim(),
          privateKey: wg.interface.privateKey,
          addresses: wg.interface.addresses.map((a) => formatIp(a)),
          peer: {
            publicKey: peer.publicKey,
            allowedIps: peer.allowedIps.map(formatCidr),
            ...(peer.presharedKey ? { presharedKey: peer.presharedKey } : {}),
            ...(peer.persistentKeepaliveSeconds
              ? { persistentKeepaliveSeconds: peer.persistentKeepaliveSeconds }
              : {}),
          },
          ...(token.value ? { token: token.value } : {}),
          ...(hash ? { certificateHash: hash } : {}),
          ...(websocketUrl ? { websocketUrl } : {}),
          carriage: carriage.value as CarriageChoice,
          dns: names,
        };
        message.textContent =
          wg.peers.length > 1
            ? "Only the first [Peer] is used (one upstream per relay session)."
            : "";
        if (remember.checked) {
          void save(snapshot()).catch((e: Error) => {
            message.textContent = `Could not save: ${e.message}`;
          });
        }
        client.send({ type: "connect", settings });
      },
    },
    h(
      "fieldset",
      {},
      h("legend", {}, "Relay"),
      field(
        "Relay URL",
        relay,
        "The relay's WebTransport endpoint, e.g. https://host:4433/wiregate",
      ),
      field("Token", token, "Bearer token or signed token (JWT), if the relay requires one"),
      field("Upstream", upstream, "Name of the WireGuard peer behind the relay"),
      h(
        "details",
        // Open when the page was given a fleet: the relays it will choose from are in view.
        { open: defaults.relays.trim() !== "" },
        h("summary", {}, "Advanced"),
        field(
          "Relay certificate SHA-256 (hex)",
          certHash,
          "Only for native WebTransport to a relay with a self-signed certificate",
        ),
        field(
          "More relays",
          relays,
          "Other relays of the same fleet, one per line: NAME URL [CERTIFICATE-SHA256]. The page measures them all, uses the best and moves to the next-best if it loses its relay",
        ),
        field(
          "Carriage",
          carriage,
          "How WireGuard messages travel to the relay: on one reliable stream, or one per datagram",
        ),
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "WireGuard"),
      field("Configuration (wg-quick)", config),
      field(
        "DNS inside the tunnel",
        dns,
        "Servers and search domains, comma-separated as in a DNS = line; when filled in, used instead of the config's",
      ),
      h(
        "div",
        { class: "row" },
        field("Import a .conf file", file),
        h("button", { type: "button", onclick: generate }, "Generate key pair"),
      ),
      field(
        "Upstream peer public key (for generated configs)",
        peerKey,
        "Filled in when the page was opened with it",
      ),
      h(
        "div",
        { class: "row" },
        field("Your public key (give this to the upstream)", ownKey),
        copy,
      ),
      h(
        "div",
        { class: "check" },
        remember,
        h(
          "label",
          { for: "remember" },
          "Remember these settings in this browser. They are stored unencrypted in IndexedDB, private key included.",
        ),
      ),
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            await forgetSaved();
            remember.checked = false;
            message.textContent = "Saved settings deleted from this browser.";
          },
        },
        "Forget saved settings",
      ),
    ),
    h("div", { class: "row" }, connect, disconnect),
    inUse,
    message,
  );

  disconnect.addEventListener("click", () => client.send({ type: "disconnect" }));

  const snapshot = (): SavedSettings => ({
    relay: relay.value,
    token: token.value,
    upstream: upstream.value,
    config: config.value,
    peerPublicKey: peerKey.value,
    certificateSha256: certHash.value,
    relays: relays.value,
    dns: dns.value,
  });

  void loadSaved().then((saved) => {
    if (!saved) return;
    relay.value = saved.relay;
    token.value = saved.token;
    upstream.value = saved.upstream;
    config.value = saved.config;
    peerKey.value = saved.peerPublicKey;
    certHash.value = saved.certificateSha256;
    relays.value = saved.relays ?? "";
    dns.value = saved.dns ?? "";
    remember.checked = true;
    showOwnKey();
    message.textContent = "Loaded settings saved in this browser.";
  });

  client.on((m) => {
    if (m.type === "state") {
      const busy = m.state.phase !== "idle" && m.state.phase !== "failed";
      connect.disabled = busy;
      disconnect.disabled = !busy;
      if (m.state.phase === "failed" && m.state.code === "token-expired") {
        message.textContent = "Token expired: enter a new one and press Connect.";
        token.value = "";
        token.focus();
      } else if (m.state.phase === "failed")
        message.textContent = `Connection failed: ${m.state.detail}`;
      inUse.textContent =
        m.state.phase === "connected"
          ? `Carriage: ${m.state.session.carriage} — ${m.state.session.carriageReason}`
          : "";
    } else if (m.type === "error") message.textContent = m.message;
  });

  // Validate a peer key typed by hand early, so a generated config is usable.
  peerKey.addEventListener("change", () => {
    if (!peerKey.value.trim()) return;
    try {
      keyFromBase64(peerKey.value.trim());
    } catch {
      message.textContent = "That upstream public key is not a base64 WireGuard key.";
    }
  });

  return h(
    "section",
    { "aria-labelledby": "connect-title" },
    h("h2", { id: "connect-title" }, "Connect"),
    form,
  );
}

export function describeState(client: TunnelClient, target: HTMLElement): void {
  const render = () => {
    const s = client.state;
    const text =
      s.phase === "connected"
        ? `Connected · ${s.session.polyfill === "native" ? "WebTransport (HTTP/3)" : "WebSocket"} · MTU ${s.session.mtu}`
        : s.phase === "reconnecting"
          ? `Reconnecting${s.retryInMs ? ` in ${(s.retryInMs / 1000).toFixed(1)} s` : ""}…`
          : s.phase === "connecting"
            ? "Connecting…"
            : s.phase === "failed"
              ? "Failed"
              : "Not connected";
    replace(target, text);
    target.dataset.phase = s.phase;
  };
  render();
  client.on((m) => {
    if (m.type === "state") render();
  });
}
