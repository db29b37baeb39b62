/**
 * Relay counters. The hot path bumps plain numbers; prom-client reads them at scrape time, so a
 * datagram costs no label lookup.
 */

import type { Carriage, RelayTransportLosses } from "@wiregate/relay-protocol";
import { Counter, Gauge, Registry } from "prom-client";

export type Direction = "to_upstream" | "to_client";
const DIRECTIONS: Direction[] = ["to_upstream", "to_client"];
const MESSAGE_TYPES = ["initiation", "response", "cookie_reply", "transport"] as const;
const CARRIAGES: Carriage[] = ["datagrams", "stream"];

export class RelayCounters {
  sessions = new Map<string, number>();
  datagrams: Record<Direction, number> = { to_upstream: 0, to_client: 0 };
  bytes: Record<Direction, number> = { to_upstream: 0, to_client: 0 };
  drops = new Map<string, number>();
  /** Index = WireGuard message type - 1. */
  messages: Record<Direction, number[]> = { to_upstream: [0, 0, 0, 0], to_client: [0, 0, 0, 0] };
  /** Messages forwarded by the carriage they came (toward the upstream) or went (toward the client) on. */
  carried: Record<Direction, Record<Carriage, number>> = {
    to_upstream: { datagrams: 0, stream: 0 },
    to_client: { datagrams: 0, stream: 0 },
  };
  refusals = new Map<string, number>();
  /** What the sessions' QUIC lost after the relay handed it over (see transport-losses.ts). */
  transportLosses: RelayTransportLosses = {
    expiredToClient: 0,
    lostToClient: 0,
    droppedFromClient: 0,
  };

  addTransportLosses(delta: RelayTransportLosses): void {
    this.transportLosses.expiredToClient += delta.expiredToClient;
    this.transportLosses.lostToClient += delta.lostToClient;
    this.transportLosses.droppedFromClient += delta.droppedFromClient;
  }

  drop(direction: Direction, reason: string, count = 1): void {
    const key = `${direction}|${reason}`;
    this.drops.set(key, (this.drops.get(key) ?? 0) + count);
  }

  refuse(code: string): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  sessionOpened(transport: string): void {
    this.sessions.set(transport, (this.sessions.get(transport) ?? 0) + 1);
  }

  sessionClosed(transport: string): void {
    this.sessions.set(transport, (this.sessions.get(transport) ?? 1) - 1);
  }
}

/**
 * A counter whose value lives elsewhere: each scrape adds what changed since the last one, after
 * `refresh` (when given) brought the value up to date.
 */
function mirroredCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string>, number][],
  refresh?: () => Promise<void>,
): void {
  const reported = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      await refresh?.();
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const delta = value - (reported.get(key) ?? 0);
        if (delta > 0) this.inc(labels, delta);
        else if (!reported.has(key)) this.inc(labels, 0);
        reported.set(key, value);
      }
    },
  });
}

const TRANSPORT_LOSS_METRICS: [keyof RelayTransportLosses, string, string][] = [
  [
    "expiredToClient",
    "wiregate_relay_datagrams_expired_toward_client_total",
    "Datagrams toward clients that expired in the relay's QUIC send queue (HTTP/3; 0 on HTTP/2)",
  ],
  [
    "lostToClient",
    "wiregate_relay_datagrams_lost_toward_client_total",
    "Datagrams toward clients that the relay's QUIC declared lost (HTTP/3; 0 on HTTP/2)",
  ],
  [
    "droppedFromClient",
    "wiregate_relay_datagrams_dropped_incoming_total",
    "Datagrams from clients dropped on arrival by the relay's transport before the relay read them",
  ],
];

/**
 * `refresh` reads what the sessions' transports and sockets lost (QUIC's counters, the kernel's
 * socket drops); every counter of one scrape waits for the same run of it, so they are all read
 * at one moment (what was forwarded next to what was lost of it).
 */
export function createMetrics(
  counters: RelayCounters,
  liveTransports: () => readonly string[],
  refresh?: () => Promise<void>,
): Registry {
  const registry = new Registry();
  new Gauge({
    name: "wiregate_relay_transport_up",
    help: "1 when the relay serves this transport (http3 on UDP, http2 and websocket on TCP)",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      const live = liveTransports();
      this.set({ transport: "http3" }, live.includes("http3") ? 1 : 0);
      this.set({ transport: "http2" }, live.includes("http2") ? 1 : 0);
      this.set({ transport: "websocket" }, live.includes("http2") ? 1 : 0);
    },
  });
  new Gauge({
    name: "wiregate_relay_sessions",
    help: "Open relay sessions by transport",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      this.reset();
      for (const transport of ["http3", "http2", "websocket"]) {
        this.set({ transport }, counters.sessions.get(transport) ?? 0);
      }
    },
  });
  mirroredCounter(
    registry,
    "wiregate_relay_datagrams_total",
    "Forwarded datagrams",
    ["direction"],
    () => DIRECTIONS.map((direction) => [{ direction }, counters.datagrams[direction]]),
    refresh,
  );
  mirroredCounter(
    registry,
    "wiregate_relay_bytes_total",
    "Forwarded bytes",
    ["direction"],
    () => DIRECTIONS.map((direction) => [{ direction }, counters.bytes[direction]]),
    refresh,
  );
  mirroredCounter(
    registry,
    "wiregate_relay_drops_total",
    "Dropped datagrams",
    ["direction", "reason"],
    () =>
      [...counters.drops].map(([key, value]) => {
        const [direction = "", reason = ""] = key.split("|");
        return [{ direction, reason }, value];
      }),
    refresh,
  );
  mirroredCounter(
    registry,
    "wiregate_relay_wireguard_messages_total",
    "Well-formed WireGuard messages seen, by type",
    ["direction", "type"],
    () =>
      DIRECTIONS.flatMap((direction) =>
        MESSAGE_TYPES.map(
          (type, i) =>
            [{ direction, type }, counters.messages[direction][i] ?? 0] as [
              Record<string, string>,
              number,
            ],
        ),
      ),
    refresh,
  );
  mirroredCounter(
    registry,
    "wiregate_relay_messages_by_carriage_total",
    "WireGuard messages by the carriage they travelled on between the client and the relay",
    ["direction", "carriage"],
    () =>
      DIRECTIONS.flatMap((direction) =>
        CARRIAGES.map(
          (carriage) =>
            [{ direction, carriage }, counters.carried[direction][carriage]] as [
              Record<string, string>,
              number,
            ],
        ),
      ),
    refresh,
  );
  mirroredCounter(
    registry,
    "wiregate_relay_refusals_total",
    "Sessions refused, by error code",
    ["code"],
    () => [...counters.refusals].map(([code, value]) => [{ code }, value]),
    refresh,
  );
  for (const [key, name, help] of TRANSPORT_LOSS_METRICS)
    mirroredCounter(registry, name, help, [], () => [[{}, counters.transportLosses[key]]], refresh);
  return registry;
}
