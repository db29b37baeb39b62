/**
 * Opens the relay session the way the page prefers: native WebTransport over HTTP/3 (with
 * `serverCertificateHashes` when the relay's certificate hash is known), and the library's
 * WebSocket mapping only when that fails — saying why. A page served over plain HTTP on loopback
 * is given its relay's ws:// address for that mapping. Every session opened here is held in
 * `relaySessions`, which ends them when the page goes away.
 */

import { WebTransportPonyfill } from "@fails-components/webtransport";
import { keyToBase64, nobleCrypto, publicKey as publicKeyOf } from "@wiregate/core";
import {
  type ConnectRelayOptions,
  connectRelay,
  type DatagramLosses,
  type RelayConnection,
  RelayError,
  type WebTransportConstructor,
  type WebTransportLike,
} from "@wiregate/relay-protocol";
import type { ConnectSettings, RelayTarget } from "./protocol.js";
import { relaySessions } from "./relay-sessions.js";

/** How long native WebTransport may take before WebSocket is tried (UDP silently dropped). */
const NATIVE_TIMEOUT_MS = 5_000;

/** Relay refusals that WebSocket would get alike: no point in falling back. */
const FINAL_CODES: ReadonlySet<string> = new Set([
  "unauthorized",
  "token-expired",
  "forbidden",
  "unknown-upstream",
  "version",
  "bad-hello",
  "limit",
  "upstream-unreachable",
]);

export interface OpenedRelay {
  conn: RelayConnection;
  kind: "native" | "websocket";
  /** Why this kind: native worked, or what made native fail. */
  reason: string;
  /** The browser transport's datagram limit (0 when it reports none). */
  transportMax: number;
  /** Native only: the browser's own WebTransport, for its counters (`browserLosses`). */
  native?: WebTransportLike;
}

/** How long the browser's `getStats()` may take. */
const STATS_TIMEOUT_MS = 1_000;

/**
 * What the browser's own WebTransport says it lost (`getStats().datagrams`), or why it says
 * nothing: Chromium's WebTransport has no `getStats()`, Firefox's throws "not implemented".
 */
export async function browserLosses(wt: WebTransportLike): Promise<DatagramLosses | string> {
  if (typeof wt.getStats !== "function") return "this browser's WebTransport has no getStats()";
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const stats = await Promise.race([
      wt.getStats(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer in ${STATS_TIMEOUT_MS} ms`)),
          STATS_TIMEOUT_MS,
        );
      }),
    ]);
    const d = stats.datagrams;
    if (!d) return "this browser's getStats() has no datagram counters";
    return {
      droppedIncoming: Number(d.droppedIncoming ?? 0),
      expiredOutgoing: Number(d.expiredOutgoing ?? 0),
      lostOutgoing: Number(d.lostOutgoing ?? 0),
    };
  } catch (error) {
    // Firefox throws an XPCOM exception whose message may be empty: its text is in String(error).
    const text = `${(error as Error)?.message ?? ""} ${String(error)}`.trim();
    return /not.implemented/i.test(text)
      ? "this browser's getStats() is not implemented"
      : `this browser's getStats() failed: ${text}`;
  } finally {
    clearTimeout(timer);
  }
}

/** A constructor that remembers the last transport it made. */
function tracked(Base: WebTransportConstructor): {
  Ctor: WebTransportConstructor;
  last: () => WebTransportLike | undefined;
} {
  let made: WebTransportLike | undefined;
  class Ctor extends Base {
    constructor(url: string, options?: Record<string, unknown>) {
      super(url, options);
      made = this;
    }
  }
  return { Ctor, last: () => made };
}

/**
 * The library's WebSocket mapping always dials wss:// at the relay URL's host and port. This one
 * dials `websocketUrl` instead (ws:// on loopback): the global WebSocket is swapped for the one
 * synchronous `new WebSocket` the library makes while it is constructed, and put back.
 */
function dialing(Base: WebTransportConstructor, websocketUrl: string): WebTransportConstructor {
  const Native = globalThis.WebSocket;
  class Redirected extends Native {
    constructor(_url: string | URL, protocols?: string | string[]) {
      super(websocketUrl, protocols);
    }
  }
  return class extends Base {
    constructor(url: string, options?: Record<string, unknown>) {
      globalThis.WebSocket = Redirected;
      try {
        super(url, options);
      } finally {
        globalThis.WebSocket = Native;
      }
    }
  };
}

const maxOf = (wt: WebTransportLike | undefined) => wt?.datagrams.maxDatagramSize ?? 0;

export async function openRelaySession(
  options: Omit<ConnectRelayOptions, "WebTransport"> & {
    websocketUrl?: string;
    /** Why HTTP/3 is not tried this time (straight to WebSocket). */
    skipNative?: string;
  },
): Promise<OpenedRelay> {
  const { websocketUrl, skipNative, ...connect } = options;
  const Native = (globalThis as { WebTransport?: WebTransportConstructor }).WebTransport;
  let reason: string;
  if (!Native) reason = "this browser has no WebTransport";
  else if (skipNative) reason = skipNative;
  else {
    const native = tracked(Native);
    try {
      const conn = await connectRelay({
        ...connect,
        WebTransport: native.Ctor,
        timeoutMs: NATIVE_TIMEOUT_MS,
      });
      const made = native.last();
      return {
        conn: relaySessions.add(conn, connect.url),
        kind: "native",
        reason: "HTTP/3 reached the relay",
        transportMax: maxOf(made),
        ...(made ? { native: made } : {}),
      };
    } catch (error) {
      if (error instanceof RelayError && FINAL_CODES.has(error.code)) throw error;
      reason = `HTTP/3 failed (${(error as Error).message})`;
      const failed = native.last();
      // Closed while still connecting, Firefox rejects `closed` too: nothing else waits for it.
      failed?.closed.catch(() => {});
      try {
        failed?.close();
      } catch {}
    }
  }
  const ponyfill = WebTransportPonyfill as unknown as WebTransportConstructor;
  const websocket = tracked(websocketUrl ? dialing(ponyfill, websocketUrl) : ponyfill);
  const conn = relaySessions.add(
    await connectRelay({ ...connect, WebTransport: websocket.Ctor }),
    connect.url,
  );
  return { conn, kind: "websocket", reason, transportMax: maxOf(websocket.last()) };
}

/** The relays of the settings' fleet, the Connect screen's relay first. */
export function relayTargets(settings: ConnectSettings): RelayTarget[] {
  const first: RelayTarget = {
    name: settings.name ?? new URL(settings.url).host,
    url: settings.url,
    ...(settings.certificateHash ? { certificateHash: settings.certificateHash } : {}),
    ...(settings.websocketUrl ? { websocketUrl: settings.websocketUrl } : {}),
  };
  return [first, ...(settings.moreRelays ?? []).filter((r) => r.url !== first.url)];
}

/**
 * A session to `upstream` with the Connect screen's settings (the tunnel's, or a raw flood's), to
 * `target` (default: the Connect screen's relay); `skipNative`: why HTTP/3 is not tried.
 */
export function openRelay(
  settings: ConnectSettings,
  upstream: string,
  onDatagram: (d: Uint8Array) => void,
  onError?: ConnectRelayOptions["onError"],
  target: RelayTarget = relayTargets(settings)[0]!,
  skipNative?: string,
): Promise<OpenedRelay> {
  return openRelaySession({
    ...(skipNative ? { skipNative } : {}),
    url: target.url,
    upstream,
    // An upstream that hands out tunnel addresses (the demo peer) answers in the welcome.
    publicKey: keyToBase64(publicKeyOf(nobleCrypto, settings.privateKey)),
    onDatagram,
    ...(settings.token ? { token: settings.token } : {}),
    ...(onError ? { onError } : {}),
    ...(target.websocketUrl ? { websocketUrl: target.websocketUrl } : {}),
    ...(settings.carriage ? { carriage: settings.carriage } : {}),
    ...(target.certificateHash
      ? { serverCertificateHashes: [{ algorithm: "sha-256", value: target.certificateHash }] }
      : {}),
  });
}
