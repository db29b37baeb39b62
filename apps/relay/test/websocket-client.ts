/**
 * The WebTransport library's WebSocket mapping (what the page falls back to) as a Node client: the
 * library's own browser build, given the `ws` package's WebSocket, which pins the relay's
 * certificate. Same code path as in a browser, from the first WebSocket frame to the last stream
 * capsule.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
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
