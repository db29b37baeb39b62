/**
 * The types a session shares with its hello phase and its forwarder: the library's server-side
 * session, what an admitted hello gets, a session's counters and its surroundings. Below
 * session.ts, hello-phase.ts and forwarder.ts, so those import downward only.
 */

import type { ErrorCode, HelloFrame, RelayTransport } from "@wiregate/relay-protocol";
import type { Limits, UpstreamEntry } from "./config.js";
import type { SessionIdentity } from "./identity/identity.js";
import type { Logger } from "./logger.js";
import type { Direction, RelayCounters } from "./metrics.js";
import type { StatsSource } from "./transport-losses.js";

type ByteStream = { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };

/** What the relay uses of the library's server-side session. */
export interface ServerSessionLike extends StatsSource {
  ready: Promise<unknown>;
  closed: Promise<unknown>;
  header?: Record<string, unknown>;
  peerAddress?: string;
  datagrams: {
    readable: ReadableStream<Uint8Array>;
    createWritable(): WritableStream<Uint8Array>;
    maxDatagramSize: number;
  };
  incomingBidirectionalStreams: ReadableStream<ByteStream>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

/**
 * What an admitted hello gets: its upstream, the tunnel addresses that upstream gave its key, and
 * who its signed token says it is (none for a shared token).
 */
export interface Admitted {
  upstream: UpstreamEntry;
  addresses?: string[];
  identity?: SessionIdentity;
}

/**
 * A hello refused: the code and message the client is told, and the reason it is counted and
 * logged under when it says more than the code (e.g. `token-audience` for `unauthorized`).
 */
export interface HelloRefusal {
  code: ErrorCode;
  message: string;
  reason?: string;
  /** The token's subject, when it was verified (for the audit log). */
  subject?: string;
}

/** Records forwarded WireGuard messages (the pcapng capture). */
export interface CaptureSink {
  record(event: {
    sessionIndex: number;
    direction: Direction;
    upstream: { address: string; port: number };
    datagram: Uint8Array;
    timeMs: number;
  }): void;
}

/** Counters of one session, both directions. */
export interface SessionStats {
  toUpstream: { datagrams: number; bytes: number };
  toClient: { datagrams: number; bytes: number };
  drops: Record<string, number>;
}

/** A session's surroundings: who it is, its limits, counters, log and clock, and its admission. */
export interface SessionEnv {
  id: string;
  index: number;
  transport: RelayTransport;
  clientAddress: string;
  limits: Limits;
  counters: RelayCounters;
  logger: Logger;
  capture: CaptureSink | undefined;
  /** Monotonic milliseconds for idleness (the relay's clock; virtual in tests). */
  now(): number;
  /** Decides whether the hello may open a session: an error to send, or what the session gets. */
  admit(hello: HelloFrame): Promise<HelloRefusal | Admitted>;
  /** Counts and (rate-limited) logs a refusal: a flood of them must not flood the log. */
  refused(refusal: HelloRefusal): void;
}
