/**
 * What the tunnel worker tells the page without being asked: trace events in batches (one message
 * per EVENT_BATCH_MS at most, each event with its wall-clock time, so a busy tunnel does not post
 * per packet) and the status every STATUS_MS (peer state, keypair ages, the relay's counters and
 * the relay's last errors).
 */
import type { PeerStatus, TraceEvent } from "@wiregate/core";
import type { DatagramLosses, RelayConnection } from "@wiregate/relay-protocol";
import type { FromWorker, TimedEvent } from "./protocol.js";

const EVENT_BATCH_MS = 50;
const STATUS_MS = 1000;
/** Relay errors shown on the Status screen, the latest last. */
const RELAY_ERRORS_KEPT = 10;

type ReportMessage = Extract<FromWorker, { type: "events" | "status" }>;

/** What the status is read from when it is posted. */
export interface StatusSource {
  conn:
    | (Pick<RelayConnection, "stats" | "receiveDrops"> & {
        streamed: Pick<RelayConnection["streamed"], "dropped">;
      })
    | undefined;
  /** Read after the relay's stats are in. */
  peerStatus: () => PeerStatus | undefined;
  /**
   * Native WebTransport only: what the browser's own transport lost (its `getStats()`), or why it
   * does not say (Chromium has no `getStats()`, Firefox's is not implemented).
   */
  browserLosses?: () => Promise<DatagramLosses | string>;
}

export interface TunnelReportOptions {
  post: (message: ReportMessage) => void;
  /** Monotonic ms, the clock of the device's events and status. */
  now: () => number;
  /** Wall-clock ms at `now() === 0`. */
  timeOrigin: number;
  /** Undefined while there is nothing to report on (never connected). */
  source: () => StatusSource | undefined;
}

export class TunnelReport {
  readonly #o: TunnelReportOptions;
  #events: TimedEvent[] = [];
  #eventTimer: ReturnType<typeof setTimeout> | undefined;
  #statusTimer: ReturnType<typeof setInterval> | undefined;
  #relayErrors: string[] = [];

  constructor(options: TunnelReportOptions) {
    this.#o = options;
  }

  /** The device's trace events, posted with the others of the next EVENT_BATCH_MS. */
  events(events: readonly TraceEvent[]): void {
    if (events.length === 0) return;
    for (const event of events)
      this.#events.push({ ...event, at: this.#o.timeOrigin + event.time });
    this.#eventTimer ??= setTimeout(() => {
      this.#eventTimer = undefined;
      this.#o.post({ type: "events", events: this.#events.splice(0) });
    }, EVENT_BATCH_MS);
  }

  relayError(error: { code: string; message: string }): void {
    const kept = this.#relayErrors.slice(-(RELAY_ERRORS_KEPT - 1));
    this.#relayErrors = [...kept, `${error.code}: ${error.message}`];
  }

  /** A new connect: the status every STATUS_MS from now on, no relay errors from before. */
  start(): void {
    this.#relayErrors = [];
    this.#statusTimer = setInterval(() => void this.status(), STATUS_MS);
  }

  stop(): void {
    clearInterval(this.#statusTimer);
  }

  /** Posts the status now. */
  async status(): Promise<void> {
    const source = this.#o.source();
    if (!source) return;
    const { conn } = source;
    const relay = conn ? await conn.stats().catch(() => undefined) : undefined;
    const browserLosses = await source.browserLosses?.();
    const status = source.peerStatus();
    this.#o.post({
      type: "status",
      now: this.#o.now(),
      peers: status ? [status] : [],
      ...(relay ? { relay } : {}),
      receiveDrops: conn?.receiveDrops ?? 0,
      streamDrops: conn?.streamed.dropped ?? 0,
      ...(browserLosses !== undefined ? { browserLosses } : {}),
      relayErrors: this.#relayErrors,
    });
  }
}
