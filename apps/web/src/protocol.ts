/**
 * Messages between the page and the tunnel worker. The worker owns the WireGuard device and the
 * relay session; the page only renders what it is told and forwards what the user asks for.
 */

import type { PeerStatus, TraceEvent } from "@wiregate/core";
import type {
  Carriage,
  CarriageChoice,
  DatagramLosses,
  RelayTransport,
  StatsFrame,
} from "@wiregate/relay-protocol";
import type { BrowseContext, BrowseRequest } from "./browse/messages.js";
import type { WebSocketRequest } from "./browse/websocket-connection.js";
import type { Resolution, ResolverStats } from "./dns/resolver.js";

export interface PeerSettings {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array;
  allowedIps: string[];
  persistentKeepaliveSeconds?: number;
}

/** One relay of a fleet the page may use (docs/web.md, "Many relays"). */
export interface RelayTarget {
  name: string;
  /** https URL of the relay's WebTransport endpoint. */
  url: string;
  /** SHA-256 of the relay's certificate, for native WebTransport with a self-signed certificate. */
  certificateHash?: Uint8Array;
  /** ws:// URL of the relay's WebSocket mapping, when not at `url`. */
  websocketUrl?: string;
}

export interface ConnectSettings {
  /** https URL of the relay's WebTransport endpoint (the first relay of a fleet). */
  url: string;
  /** Its name on the Status screen (default: the URL's host). */
  name?: string;
  /**
   * The other relays of its fleet: the page measures them all, uses the best and moves to the
   * next-best when its session is lost. Absent: one relay, as before.
   */
  moreRelays?: RelayTarget[];
  token?: string;
  /** Upstream name the relay knows. */
  upstream: string;
  privateKey: Uint8Array;
  /** Interface addresses without prefix length (source addresses for ping). */
  addresses: string[];
  peer: PeerSettings;
  /** SHA-256 of the relay's certificate, for native WebTransport with a self-signed certificate. */
  certificateHash?: Uint8Array;
  /** ws:// URL of the relay's WebSocket mapping, when not at `url` (its loopback HTTP listener). */
  websocketUrl?: string;
  /** How WireGuard messages travel to the relay: asked in the hello, the welcome decides. */
  carriage?: CarriageChoice;
  /** The tunnel's DNS: the config's `DNS =` line, or the Connect screen's field. */
  dns?: DnsSettings;
}

/** Name servers inside the tunnel and the search domains (wg-quick's `DNS =` entries). */
export interface DnsSettings {
  servers: string[];
  search: string[];
}

export interface PingRequest {
  destination: string;
  count: number;
  intervalMs: number;
  /** ICMP payload bytes. */
  size: number;
}

export interface FloodRequest {
  /** "tunnel": UDP echo inside WireGuard; "raw": WireGuard-shaped datagrams to a raw UDP echo. */
  mode: "tunnel" | "raw";
  /** For "raw": the relay upstream that echoes UDP. */
  upstream?: string;
  destination: string;
  port: number;
  /** Inner UDP payload bytes (tunnel) — raw datagrams are sized like the tunnel's would be. */
  payload: number;
  durationMs: number;
  /** Datagrams in flight at most (there is no backpressure, so the sender paces itself). */
  window: number;
}

export interface FloodResult {
  mode: FloodRequest["mode"];
  sent: number;
  received: number;
  /** Bytes per datagram on the relay hop. */
  datagramBytes: number;
  seconds: number;
  datagramsPerSecond: number;
  /** Inner payload bits per second (tunnel) or datagram payload (raw) — see docs/web.md. */
  megabitsPerSecond: number;
  /** Sent and not back within FLOOD_LOSS_MS: counted lost and replaced. */
  lost: number;
  /** The browser transport's own loss counters during the run, when it reports them. */
  transportLosses?: { droppedIncoming: number; expiredOutgoing: number; lostOutgoing: number };
}

/** The answer to an HTTP request through the tunnel (Browse), on its MessagePort. */
export type HttpPortMessage =
  | { type: "head"; status: number; statusText: string; headers: [string, string][] }
  | { type: "chunk"; data: Uint8Array }
  | { type: "end" }
  | { type: "error"; message: string };

/** The answer to a `resolve` (Tools screen), on its MessagePort. */
export type ResolvePortMessage =
  | { type: "resolved"; resolution: Resolution; stats: ResolverStats }
  | { type: "error"; message: string; stats?: ResolverStats };

/** A TCP console connection's MessagePort, both ways. */
export type TcpPortMessage =
  | { type: "open"; local: string; remote?: string }
  | { type: "data"; data: Uint8Array }
  | { type: "end" }
  | { type: "closed" }
  | { type: "error"; message: string }
  | { type: "send"; data: Uint8Array }
  | { type: "close" };

/** How the page closes one relay session by beacon when it goes away (relay-sessions.ts). */
export interface CloseBeacon {
  url: string;
  body: string;
}

export type ToWorker =
  /**
   * The first message: this tab's browser session (kept in sessionStorage, so the tab's reloads
   * keep it), which Browse's session cookies belong to (src/browse/cookies.ts).
   */
  | { type: "browse-session"; id: string }
  | { type: "connect"; settings: ConnectSettings }
  /** `host` may be a name: the worker resolves it (dns/). */
  | { type: "tcp-open"; host: string; port: number; channel: MessagePort }
  /** A request of a Browse origin (src/browse/exchange.ts); the answer streams on `port`. */
  | { type: "browse-http"; context: BrowseContext; request: BrowseRequest; port: MessagePort }
  /** What `document.cookie` reads on `path` of the target, answered on `port` as a string. */
  | { type: "browse-cookies"; context: BrowseContext; path: string; port: MessagePort }
  /** A `document.cookie = …` of the target's scripts. */
  | { type: "browse-set-cookie"; context: BrowseContext; path: string; cookie: string }
  /** A shown app's WebSocket (src/browse/websocket-connection.ts), its frames on `port`. */
  | { type: "websocket"; request: WebSocketRequest; port: MessagePort }
  | { type: "resolve"; name: string; channel: MessagePort }
  | { type: "disconnect" }
  /** A new token: used from the next session on, and dials again at once if the last one failed. */
  | { type: "token"; token: string }
  | { type: "handshake" }
  | { type: "ping"; request: PingRequest }
  | { type: "ping-stop" }
  | { type: "flood"; request: FloodRequest }
  | { type: "udp-listen"; port: number }
  | { type: "udp-close" }
  /**
   * The page is going away (`pagehide`): every relay session closes now with `GOING_AWAY`; a
   * page kept in the back-forward cache says `page-shown` when it is shown again.
   */
  | { type: "page-hidden" }
  | { type: "page-shown" };

/** What the UDP listener inside the tunnel has received (Tools screen). */
export interface UdpListenStatus {
  port: number;
  datagrams: number;
  /** UDP payload bytes. */
  bytes: number;
  /** Datagrams by payload size. */
  sizes: Record<string, number>;
  /**
   * Datagrams the page's TCP/IP stack dropped because this port's queue was full: they came
   * faster than the listener read them (all of a stream carriage's batch arrives at once).
   */
  dropped: number;
  /** Address and port of the latest sender. */
  from?: string;
}

/** What the page measured of one relay of its fleet when it chose one. */
export interface RelayMeasurement {
  name: string;
  url: string;
  /** From dialling to the relay's welcome. */
  connectMs?: number;
  /** The best of a few round trips of a stats request on the session's control stream. */
  rttMs?: number;
  transport?: "native" | "websocket";
  /** Why it could not be used. */
  error?: string;
}

/** A move from one relay of the fleet to another. */
export interface RelayMove {
  /** Wall-clock ms when the new session was up. */
  at: number;
  from: string;
  to: string;
  /** What ended the session on `from`. */
  reason: string;
  /** From losing `from` to the welcome of `to`. */
  tookMs: number;
}

/** Which relay the session is on, and why. */
export interface RelayInUse {
  name: string;
  url: string;
  reason: string;
  /** Of the fleet, when the page measured it (empty for one relay). */
  measurements: RelayMeasurement[];
  /** The latest moves between relays, the latest last. */
  moves: RelayMove[];
}

/** The relay session while connected: what the relay and the page agreed on. */
export interface OpenSession {
  relay: RelayInUse;
  /** Transport the relay reports for the session. */
  transport: RelayTransport;
  /** What the page uses: native WebTransport (HTTP/3), or the WebSocket mapping as fallback. */
  polyfill: "native" | "websocket";
  /** Why: native worked, or what made it fail. */
  transportReason: string;
  sessionId: string;
  /** How WireGuard messages travel between the page and the relay, and why (the welcome's). */
  carriage: Carriage;
  carriageReason: string;
  /** Largest WireGuard message per datagram (the relay's and the transport's limits). */
  datagramSize: number;
  /** Inner MTU: the largest message minus the 32 bytes of WireGuard transport overhead. */
  mtu: number;
  /** What runs the tunnel's crypto (libsodium's WebAssembly, or noble alone and why). */
  crypto: string;
}

/** The tunnel's connection as the page shows it; each phase carries only what is true in it. */
export type ConnectionState =
  | { phase: "idle" }
  | { phase: "connecting"; attempt: number; publicKey: string }
  | {
      phase: "reconnecting";
      attempt: number;
      publicKey?: string;
      /** Set while waiting before the next attempt. */
      retryInMs?: number;
      /** What ended the last attempt. */
      detail?: string;
      /** Of a fleet: the relay the next attempt dials. */
      next?: string;
    }
  | { phase: "connected"; publicKey: string; session: OpenSession }
  | {
      phase: "failed";
      detail: string;
      /** The relay's error code, when it refused (e.g. `token-expired`: a new token reconnects). */
      code?: string;
    };

export type ConnectionPhase = ConnectionState["phase"];

/** A trace event with the wall-clock time it happened (ms since the epoch). */
export interface TimedEvent extends TraceEvent {
  at: number;
}

export interface PingReply {
  sequence: number;
  rttMs: number;
  bytes: number;
  from: string;
}

export interface PingSummary {
  transmitted: number;
  received: number;
  lossPercent: number;
  min?: number;
  avg?: number;
  max?: number;
}

export type FromWorker =
  | { type: "state"; state: ConnectionState }
  /** The close beacons of the worker's open relay sessions, whenever they change. */
  | { type: "close-beacons"; beacons: CloseBeacon[] }
  | { type: "events"; events: TimedEvent[] }
  | {
      type: "status";
      /** Worker's monotonic now, for ages. */
      now: number;
      peers: PeerStatus[];
      relay?: StatsFrame;
      receiveDrops: number;
      /** Messages this page did not send: the message stream's queue was full. */
      streamDrops: number;
      /**
       * Native WebTransport: the browser transport's own datagram losses (`getStats()`), or why
       * this browser does not report them; absent over WebSocket.
       */
      browserLosses?: DatagramLosses | string;
      relayErrors: string[];
    }
  | { type: "ping-reply"; reply: PingReply }
  | { type: "ping-lost"; sequence: number }
  | { type: "ping-done"; summary: PingSummary }
  | { type: "flood-done"; result: FloodResult }
  | { type: "udp-status"; status: UdpListenStatus }
  | { type: "error"; message: string };
