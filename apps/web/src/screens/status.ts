/** Status: the session, each peer's handshake state and counters, and the live trace timeline. */
import type { DatagramLosses, StatsFrame } from "@wiregate/relay-protocol";
import type { TunnelClient } from "../client.js";
import { formatAge, formatBytes, h, replace, shortKey } from "../dom.js";
import type { TimedEvent } from "../protocol.js";
import { relayFacts } from "./relay-facts.js";

/** The timeline as NDJSON, one trace event per line with `at` (ms since the epoch): what
 * `wiregate-replay analyze --log` and the Captures screen read. */
function downloadTimeline(events: readonly TimedEvent[]): void {
  const text = events.map((e) => `${JSON.stringify(e)}\n`).join("");
  const url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
  const link = h("a", { href: url, download: `wiregate-timeline-${Date.now()}.ndjson` });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const PHASE: Record<string, string> = {
  idle: "not connected",
  connecting: "connecting",
  connected: "connected",
  reconnecting: "reconnecting",
  failed: "failed",
};

function time(at: number): string {
  const d = new Date(at);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function describe(event: TimedEvent): string {
  const parts: string[] = [];
  if (event.role) parts.push(event.role);
  if (event.from || event.to) parts.push(`${event.from ?? "·"} → ${event.to ?? "·"}`);
  if (event.reason) parts.push(event.reason);
  if (event.localIndex !== undefined) parts.push(`local ${event.localIndex}`);
  return parts.join(" · ");
}

/**
 * What the relay lost of the messages it sent this page after taking them: its own QUIC's
 * datagrams that expired in its send queue or were declared lost, and the messages its message
 * stream's queue limit dropped (`stream-backlog`). Undefined from a relay that does not report its
 * transport's losses. Over WebSocket the transport loses nothing.
 */
function transportLosses(relay: StatsFrame, http3: boolean): string | undefined {
  const losses = relay.transportLosses;
  if (!losses) return undefined;
  const queue = relay.drops["stream-backlog"] ?? 0;
  const queued = `${queue} over its stream's queue limit`;
  // Over WebSocket the relay hands the page TCP, which loses nothing on the way.
  if (!http3) return queue === 0 ? "none (WebSocket is reliable)" : `${queue} (${queued})`;
  const { expiredToClient: expired, lostToClient: lost } = losses;
  const all = expired + lost + queue;
  return all === 0
    ? "none"
    : `${all} (${expired} expired in its queue, ${lost} lost${queue ? `, ${queued}` : ""})`;
}

/**
 * What the browser's own WebTransport lost, from its `getStats()`, or why it does not say (Chromium
 * has no `getStats()`, Firefox's is not implemented): nothing over WebSocket.
 */
function browserLosses(losses: DatagramLosses | string | undefined): HTMLElement[] {
  if (losses === undefined) return [];
  const name = "Dropped by this browser's WebTransport";
  if (typeof losses === "string")
    return [
      h("dt", {}, name),
      h(
        "dd",
        { "data-testid": "browser-losses", "data-reported": "false" },
        `not reported: ${losses}`,
      ),
    ];
  const { droppedIncoming, expiredOutgoing, lostOutgoing } = losses;
  const parts = [
    droppedIncoming ? `${droppedIncoming} on arrival (its queue was full)` : "",
    expiredOutgoing ? `${expiredOutgoing} expired before sending` : "",
    lostOutgoing ? `${lostOutgoing} lost on the way out` : "",
  ].filter(Boolean);
  return [
    h("dt", {}, name),
    h(
      "dd",
      {
        "data-testid": "browser-losses",
        "data-reported": "true",
        "data-dropped-incoming": droppedIncoming,
      },
      parts.length ? parts.join(", ") : "none",
    ),
  ];
}

export function statusScreen(client: TunnelClient): HTMLElement {
  const session = h("dl", { class: "facts", "data-testid": "session" });
  const peers = h("div", { "data-testid": "peers" });
  const relay = h("dl", { class: "facts", "data-testid": "relay-stats" });
  const showDebug = h("input", { type: "checkbox", id: "show-debug" });
  const timeline = h("ol", {
    class: "timeline",
    "data-testid": "timeline",
    "aria-label": "Trace events, newest first",
  });
  const handshake = h(
    "button",
    { type: "button", onclick: () => client.send({ type: "handshake" }) },
    "Handshake now",
  );

  const fact = (name: string, value: string | number | undefined) =>
    value === undefined || value === "" ? [] : [h("dt", {}, name), h("dd", {}, String(value))];

  const renderSession = () => {
    const s = client.state;
    const open = s.phase === "connected" ? s.session : undefined;
    replace(
      session,
      fact("State", PHASE[s.phase]),
      relayFacts(open?.relay),
      fact(
        "Transport",
        open
          ? `${open.polyfill === "native" ? "native WebTransport" : "WebSocket (fallback)"} — relay reports ${open.transport}`
          : undefined,
      ),
      fact("Why this transport", open?.transportReason),
      fact(
        "Carriage",
        open
          ? open.carriage === "stream"
            ? "stream (every WireGuard message on one reliable stream)"
            : "datagrams (one WireGuard message per datagram)"
          : undefined,
      ),
      fact("Why this carriage", open?.carriageReason),
      fact("Datagram limit", open ? `${open.datagramSize} bytes` : undefined),
      fact("Tunnel MTU", open ? `${open.mtu} bytes` : undefined),
      fact("Crypto", open?.crypto),
      fact("Session", open?.sessionId),
      fact("Your public key", "publicKey" in s ? s.publicKey : undefined),
      fact("Reconnect attempt", s.phase === "reconnecting" ? s.attempt : undefined),
      fact("Next relay", s.phase === "reconnecting" ? s.next : undefined),
      fact("Last problem", "detail" in s ? s.detail : undefined),
    );
  };

  const renderPeers = () => {
    const status = client.status;
    if (!status || status.peers.length === 0) {
      replace(peers, h("p", { class: "muted" }, "No peer yet."));
      replace(relay);
      return;
    }
    const age = (t: number) => status.workerNow - t + (performance.now() - status.receivedAt);
    replace(
      peers,
      status.peers.map((p) =>
        h(
          "table",
          { class: "peer" },
          h("caption", {}, `Peer ${shortKey(p.publicKey)}`),
          h(
            "tbody",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "row" }, "Handshake"),
              h("td", { "data-testid": "handshake" }, p.handshake),
            ),
            h(
              "tr",
              {},
              h("th", { scope: "row" }, "Last handshake"),
              h(
                "td",
                {},
                p.lastHandshakeAt === undefined ? "never" : formatAge(age(p.lastHandshakeAt)),
              ),
            ),
            h("tr", {}, h("th", { scope: "row" }, "Sent"), h("td", {}, formatBytes(p.txBytes))),
            h("tr", {}, h("th", { scope: "row" }, "Received"), h("td", {}, formatBytes(p.rxBytes))),
            h(
              "tr",
              {},
              h("th", { scope: "row" }, "Lost on the way to you"),
              h(
                "td",
                { "data-testid": "rx-missing", "data-count": p.rxMissing },
                p.rxMissing === 0
                  ? "none"
                  : `${p.rxMissing} ${p.rxMissing === 1 ? "message" : "messages"} (gaps in WireGuard's counters)`,
              ),
            ),
            h(
              "tr",
              {},
              h("th", { scope: "row" }, "Keypairs"),
              h(
                "td",
                {},
                p.keypairs.length === 0
                  ? "none"
                  : p.keypairs
                      .map(
                        (k) =>
                          `${k.slot} ${(age(k.createdAt) / 1000).toFixed(0)} s (${k.isInitiator ? "we initiated" : "they initiated"})`,
                      )
                      .join(", "),
              ),
            ),
          ),
        ),
      ),
    );
    const r = status.relay;
    const drops = r ? Object.entries(r.drops).filter(([, n]) => n > 0) : [];
    replace(
      relay,
      r
        ? fact(
            "To upstream",
            `${r.toUpstream.datagrams} datagrams, ${formatBytes(r.toUpstream.bytes)}`,
          )
        : [],
      r
        ? fact(
            "From upstream",
            `${r.toClient.datagrams} datagrams, ${formatBytes(r.toClient.bytes)}`,
          )
        : [],
      fact(
        "Relay drops",
        r ? (drops.length ? drops.map(([k, n]) => `${k} ${n}`).join(", ") : "none") : undefined,
      ),
      fact(
        "Relay dropped toward you",
        r
          ? transportLosses(
              r,
              client.state.phase === "connected" && client.state.session.transport === "http3",
            )
          : undefined,
      ),
      fact("Dropped in this page", status.receiveDrops || undefined),
      browserLosses(status.browserLosses),
      fact(
        "Not sent by this page (stream queue full)",
        status.streamDrops ? `${status.streamDrops} messages` : undefined,
      ),
      fact("Relay errors", status.relayErrors.join("; ")),
    );
  };

  const eventItem = (e: TimedEvent) => {
    const collision = e.kind === "collision";
    return h(
      "li",
      {
        class: `event level-${e.level}${collision ? " collision" : ""}`,
        "data-kind": e.kind,
        "data-at": Math.round(e.at),
      },
      h("time", {}, time(e.at)),
      h("span", { class: "kind" }, collision ? "⚠ collision" : e.kind),
      h("span", { class: "detail" }, describe(e)),
    );
  };

  const renderTimeline = () => {
    const shown = client.events.filter((e) => showDebug.checked || e.level !== "debug").slice(-300);
    replace(timeline, shown.reverse().map(eventItem));
  };

  showDebug.addEventListener("change", renderTimeline);
  client.on((m) => {
    if (m.type === "state") renderSession();
    else if (m.type === "status") renderPeers();
    else if (m.type === "events") {
      // Prepend only the new ones: no full redraw per batch.
      const fresh = m.events.filter((e) => showDebug.checked || e.level !== "debug");
      for (const e of fresh) timeline.prepend(eventItem(e));
      while (timeline.childElementCount > 300) timeline.lastElementChild?.remove();
    }
  });
  renderSession();
  renderPeers();
  renderTimeline();
  // Ages move even without new status.
  setInterval(renderPeers, 1000);

  return h(
    "section",
    { "aria-labelledby": "status-title" },
    h("h2", { id: "status-title" }, "Status"),
    h("h3", {}, "Session"),
    session,
    h("h3", {}, "Peers"),
    peers,
    handshake,
    h("h3", {}, "Relay counters"),
    relay,
    h(
      "div",
      { class: "timeline-head" },
      h("h3", {}, "Timeline"),
      h(
        "div",
        { class: "check" },
        showDebug,
        h("label", { for: "show-debug" }, "Show debug events"),
        h(
          "button",
          {
            type: "button",
            "data-testid": "export-timeline",
            onclick: () => downloadTimeline(client.events),
          },
          "Export NDJSON",
        ),
      ),
    ),
    timeline,
  );
}
