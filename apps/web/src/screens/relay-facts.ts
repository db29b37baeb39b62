/** The Status screen's lines about the relay in use: which, why, what the page measured, moves. */
import { h } from "../dom.js";
import type { RelayInUse, RelayMeasurement, RelayMove } from "../protocol.js";

const ms = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;

function measured(m: RelayMeasurement): string {
  if (m.error !== undefined) return `${m.name}: not usable (${m.error})`;
  const via = m.transport === "native" ? "HTTP/3" : "WebSocket";
  return `${m.name}: control-stream round trip ${ms(m.rttMs ?? 0)}, connected in ${ms(m.connectMs ?? 0)} over ${via}`;
}

function moved(move: RelayMove): string {
  const at = new Date(move.at).toLocaleTimeString();
  return `${at} ${move.from} → ${move.to} in ${(move.tookMs / 1000).toFixed(1)} s: ${move.reason}`;
}

const list = (testid: string, items: string[]) =>
  h("ul", { class: "plain", "data-testid": testid }, ...items.map((text) => h("li", {}, text)));

export function relayFacts(relay: RelayInUse | undefined): HTMLElement[] {
  if (!relay) return [];
  return [
    h("dt", {}, "Relay"),
    h("dd", { "data-testid": "relay", "data-name": relay.name }, `${relay.name} — ${relay.url}`),
    h("dt", {}, "Why this relay"),
    h("dd", { "data-testid": "relay-reason" }, relay.reason),
    ...(relay.measurements.length > 0
      ? [
          h("dt", {}, "Relays measured"),
          h("dd", {}, list("relay-measurements", relay.measurements.map(measured))),
        ]
      : []),
    ...(relay.moves.length > 0
      ? [
          h("dt", {}, "Moves between relays"),
          h(
            "dd",
            { "data-testid": "relay-moves", "data-count": relay.moves.length },
            list("relay-move-list", relay.moves.map(moved)),
          ),
        ]
      : []),
  ];
}
