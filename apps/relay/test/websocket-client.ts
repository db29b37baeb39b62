/**
 * The WebTransport library's WebSocket mapping (what the page falls back to) as a Node client: the
 * library's own browser build, given the `ws` package's WebSocket, which pins the relay's
 * certificate. Same code path as in a browser, from the first WebSocket frame to the last stream
 * capsule.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WebTransport } from "@fails-components/webtransport";
import type { WebTransportConstructor } from "@wiregate/relay-protocol";
import WebSocket from "ws";

/** The browser build is only exported under the "browser" condition: import it by its path. */
const BROWSER_BUILD = join(
  import.meta.dirname,
  "../../../node_modules/@fails-components/webtransport/lib/webtransport.browser.js",
);

/**
 * A WebTransport constructor over WebSocket that trusts only the certificate in `certFile`.
 * The library dials wss:// at the URL's host and port with the global WebSocket, which is set for
 * the one synchronous `new WebSocket` of its constructor and put back.
 */
export async function websocketTransport(certFile: string): Promise<WebTransportConstructor> {
  const { WebTransportPonyfill } = (await import(BROWSER_BUILD)) as {
    WebTransportPonyfill: WebTransportConstructor;
  };
  // The mapping asks `navigator.connection` for a round-trip time, which Node 20 does not define.
  const globals = globalThis as { navigator?: unknown; WebSocket?: unknown };
  globals.navigator ??= {};
  const ca = readFileSync(certFile, "utf8");
  class Pinned extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { ca });
    }
  }
  return class extends WebTransportPonyfill {
    constructor(url: string, options?: Record<string, unknown>) {
      const before = globals.WebSocket;
      globals.WebSocket = Pinned;
      try {
        super(url, options);
      } finally {
        globals.WebSocket = before;
      }
    }
  };
}

/** Where a relay started with `certDir` keeps its development certificate. */
export const devCertFile = (certDir: string): string => join(certDir, "cert.pem");

/** Every transport the relay serves, as the tests dial them. */
export const TRANSPORTS = ["http3", "http2", "websocket"] as const;
export type Transport = (typeof TRANSPORTS)[number];

/**
 * The constructor and options that open a session over each transport: the add-on's HTTP/3 client,
 * the library's HTTP/2 (reliable) mode, and its WebSocket mapping trusting `certFile`.
 */
export async function transportDialer(certFile: string): Promise<
  (transport: Transport) => {
    Ctor: WebTransportConstructor;
    transportOptions: Record<string, unknown>;
  }
> {
  const overWebSocket = await websocketTransport(certFile);
  return (transport) => {
    if (transport === "websocket") return { Ctor: overWebSocket, transportOptions: {} };
    return {
      Ctor: WebTransport as unknown as WebTransportConstructor,
      transportOptions:
        transport === "http2" ? { forceReliable: true } : { requireUnreliable: true },
    };
  };
}
