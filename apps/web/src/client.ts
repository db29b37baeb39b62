/** The page side of the tunnel worker: typed messages in, listeners out, latest state kept. */
import type { PeerStatus } from "@wiregate/core";
import type { DatagramLosses, StatsFrame } from "@wiregate/relay-protocol";
import type { CloseBeacon, ConnectionState, FromWorker, TimedEvent, ToWorker } from "./protocol.js";

type Listener = (message: FromWorker) => void;

export interface StatusSnapshot {
  /** Page time (performance.now) when it arrived, and the worker's ages relative to it. */
  receivedAt: number;
  workerNow: number;
  peers: PeerStatus[];
  relay?: StatsFrame;
  receiveDrops: number;
  /** Messages the page did not send: the message stream's queue was full. */
  streamDrops: number;
  /** The browser's WebTransport losses, or why it reports none; absent over WebSocket. */
  browserLosses?: DatagramLosses | string;
  relayErrors: string[];
}

export class TunnelClient {
  readonly #worker: Worker;
  readonly #listeners = new Set<Listener>();
  /** How to close the worker's relay sessions from here (relay-sessions.ts). */
  #beacons: CloseBeacon[] = [];
  state: ConnectionState = { phase: "idle" };
  status: StatusSnapshot | undefined;
  /** Every trace event since the page loaded, bounded. */
  readonly events: TimedEvent[] = [];
  static readonly MAX_EVENTS = 2000;

  constructor() {
    this.#worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    this.send({ type: "browse-session", id: browserSession() });
    this.#worker.addEventListener("message", (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "state") this.state = message.state;
      else if (message.type === "close-beacons") this.#beacons = message.beacons;
      else if (message.type === "status") {
        this.status = {
          receivedAt: performance.now(),
          workerNow: message.now,
          peers: message.peers,
          receiveDrops: message.receiveDrops,
          streamDrops: message.streamDrops,
          relayErrors: message.relayErrors,
          ...(message.relay ? { relay: message.relay } : {}),
          ...(message.browserLosses !== undefined ? { browserLosses: message.browserLosses } : {}),
        };
      } else if (message.type === "events") {
        this.events.push(...message.events);
        if (this.events.length > TunnelClient.MAX_EVENTS) {
          this.events.splice(0, this.events.length - TunnelClient.MAX_EVENTS);
        }
      }
      for (const listener of this.#listeners) listener(message);
    });
    // A page that goes away ends its relay sessions at once (docs/web.md, "When the page goes
    // away"): by beacon from here, since the worker may not read the message in time (busy, or
    // ended by the browser first), and from the worker. A page the browser keeps in its back-forward cache
    // connects again when shown.
    window.addEventListener("pagehide", () => {
      for (const beacon of this.#beacons) navigator.sendBeacon(beacon.url, beacon.body);
      this.#beacons = [];
      this.send({ type: "page-hidden" });
    });
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) this.send({ type: "page-shown" });
    });
    this.#worker.addEventListener("error", (event) => {
      const message: FromWorker = { type: "error", message: `worker: ${event.message}` };
      for (const listener of this.#listeners) listener(message);
    });
  }

  send(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * This tab's browser session: a random name kept in sessionStorage, which lasts as long as the
 * tab (its reloads included) and no longer. Without sessionStorage, every load is a new session.
 */
function browserSession(): string {
  const KEY = "wiregate-browse-session";
  const fresh = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join("");
  try {
    const known = sessionStorage.getItem(KEY);
    if (known) return known;
    const id = fresh();
    sessionStorage.setItem(KEY, id);
    return id;
  } catch {
    return fresh();
  }
}
