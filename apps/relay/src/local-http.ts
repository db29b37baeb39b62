/**
 * The plain-HTTP listener for a first run: the web page and WebSocket sessions on loopback, with no
 * certificate. Browsers count http://127.0.0.1, http://[::1] and http://localhost as secure
 * contexts (WebTransport, Service Workers and crypto.subtle all work there), and the page reaches
 * HTTP/3 with the development certificate's hash, so nothing asks the user to trust anything.
 *
 * Only loopback: the configured host is checked before (config.ts) and the bound address after.
 * Requests must name a loopback host too, so a web site that rebinds its DNS name to 127.0.0.1
 * cannot use the listener as its own origin. WebSocket upgrades go to the WebTransport library's
 * own handler, so those sessions take exactly the path of the TLS port's.
 *
 * `<label>.localhost` hosts are the Browse screen's origins, one per web server inside a tunnel:
 * they get the Browse bridge only (browse-origin.ts), never the page or a session.
 */

import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { browseLabel, hostName, PAGE_NAME, serveBrowseBridge } from "./browse-origin.js";
import { isLoopback, isLoopbackAddress, type Limits } from "./config.js";
import { ownOrigins } from "./origin-check.js";
import { type StaticSite, serveHttp1 } from "./static-files.js";

export type UpgradeListener = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

export interface LocalHttpOptions {
  host: string;
  port: number;
  site: StaticSite;
  /** The WebTransport library's WebSocket upgrade handler(s), taken from its HTTP/2 server. */
  upgrade: readonly UpgradeListener[];
  limits: Pick<Limits, "maxConnections" | "connectionIdleMs">;
}

/**
 * Whether a request is addressed to this machine by a loopback name (not a rebound DNS name):
 * localhost, a loopback address, or wiregate.localhost (browsers resolve *.localhost themselves).
 */
export function loopbackHost(header: string | undefined): boolean {
  const name = hostName(header);
  return isLoopback(name) || name === PAGE_NAME;
}

export interface LocalHttp {
  server: Server;
  /** The page's URL, as a browser writes it. */
  url: string;
  /** The URL to open: the page at wiregate.localhost when that name reaches the listener (see `pageUrl`). */
  pageUrl: string;
  /** The origins of a page served here, let in by the relay's origin check. */
  origins: string[];
}

/**
 * The URL to open the page at: `http://wiregate.localhost:<port>/`, where the Browse screen's
 * origins are of the page's own site (a browser that blocks third-party storage still gives them
 * their Service Workers), when the listener is on an address browsers resolve `*.localhost` to
 * (127.0.0.1, ::1); else its own address (another loopback address, which no name reaches).
 */
export function pageUrl(host: string, port: number): string {
  if (["127.0.0.1", "::1", "localhost"].includes(host)) return `http://${PAGE_NAME}:${port}/`;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}

export async function startLocalHttp(options: LocalHttpOptions): Promise<LocalHttp> {
  const { limits } = options;
  let pageOrigins: string[] = [];
  const server = createServer(
    { headersTimeout: limits.connectionIdleMs, requestTimeout: limits.connectionIdleMs },
    (req, res) => {
      if (browseLabel(hostName(req.headers.host)) !== undefined) {
        void serveBrowseBridge(options.site.root, pageOrigins, req, res);
        return;
      }
      if (!loopbackHost(req.headers.host)) {
        res.writeHead(421, { "content-type": "text/plain; charset=utf-8" });
        res.end("this listener answers only to localhost, 127.0.0.1 and [::1]\n");
        return;
      }
      void serveHttp1(options.site, req, res);
    },
  );
  server.maxConnections = limits.maxConnections;
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => {});
    if (!loopbackHost(req.headers.host)) {
      socket.destroy();
      return;
    }
    for (const listener of options.upgrade) listener(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).address;
  if (!isLoopbackAddress(bound)) {
    await new Promise((resolve) => server.close(resolve));
    throw new Error(
      `relay: the plain-HTTP listener (${options.host}) is bound to ${bound}, not loopback; it is served on loopback only`,
    );
  }
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  pageOrigins = [
    ...new Set(
      ownOrigins(["localhost", PAGE_NAME, "127.0.0.1", "::1", options.host], port, "http"),
    ),
  ];
  return {
    server,
    url: `http://${host}:${port}/`,
    pageUrl: pageUrl(options.host, port),
    origins: pageOrigins,
  };
}
