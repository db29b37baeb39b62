/**
 * Reaches the node:http2 server inside the library's Http2Server to (1) set no-delay on every TLS
 * socket — Nagle plus delayed ACKs otherwise add ~40 ms per round trip — and (2) answer ordinary
 * GET requests (static files, /healthz) and a page's close beacon (close-beacon.ts) on the same
 * origin. The library only handles CONNECT streams and WebSocket upgrades; everything else is
 * routed here.
 */

import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import {
  browseLabel,
  hostName,
  inBrowseDomain,
  serveBrowseBridge,
  serveBrowseBridge2,
} from "./browse-origin.js";
import { type BeaconAnswer, readBody } from "./close-beacon.js";
import { type StaticSite, serveHttp1, serveHttp2 } from "./static-files.js";

/** Where a page's close beacon arrives, and what answers it. */
export interface CloseBeacons {
  path: string;
  answer(body: string): BeaconAnswer;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

/** The answer to a request that is a close beacon, or undefined when it is not one. */
async function beaconAnswer(
  beacons: CloseBeacons | undefined,
  method: string | undefined,
  path: string | undefined,
  body: () => Promise<string | undefined>,
): Promise<BeaconAnswer | undefined> {
  if (!beacons || method !== "POST" || path?.split("?")[0] !== beacons.path) return undefined;
  const text = await body();
  return text === undefined ? { status: 413, text: "body too large\n" } : beacons.answer(text);
}

/** A public relay's Browse domain: its hosts get the Browse bridge, never the page. */
export interface BrowseHosts {
  domain: string;
  /** The origins of the Wiregate page (the only windows the bridge takes a tunnel port from). */
  pageOrigins: () => readonly string[];
}

type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  ...rest: unknown[]
) => void;

/** The library creates its node server in `createTransportInt`; call that first. */
export function libraryHttp2Server(server: unknown): Http2SecureServer {
  const inner = (server as { transportInt?: { serverInt?: unknown } }).transportInt?.serverInt;
  if (
    !(inner instanceof EventEmitter) ||
    typeof (inner as { listen?: unknown }).listen !== "function"
  ) {
    throw new Error(
      "relay: cannot find the HTTP/2 server inside Http2Server (library internals changed)",
    );
  }
  return inner as Http2SecureServer;
}

export function attachTlsPort(
  h2: Http2SecureServer,
  site: StaticSite,
  onSocket: (socket: TLSSocket) => void = () => {},
  browse?: BrowseHosts,
  beacons?: CloseBeacons,
): void {
  /** Whether the host is under the Browse domain: a Browse origin's bridge, or 404, never the page. */
  const browseHost = (host: string | undefined): "bridge" | "none" | undefined => {
    if (!browse) return undefined;
    const name = hostName(host);
    if (!inBrowseDomain(name, [browse.domain])) return undefined;
    return browseLabel(name, [browse.domain]) === undefined ? "none" : "bridge";
  };
  h2.on("secureConnection", (socket: TLSSocket) => {
    socket.setNoDelay(true);
    onSocket(socket);
  });
  const libraryListeners = h2.listeners("stream") as StreamListener[];
  // Adding a 'request' listener makes node add its compatibility 'stream' listener; HTTP/1.1
  // requests keep arriving as 'request', HTTP/2 streams are routed below instead.
  h2.on("request", (request, response) => {
    const req = request as unknown as IncomingMessage;
    const res = response as unknown as ServerResponse;
    const kind = browseHost(req.headers.host);
    if (kind === "none") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not a Browse origin\n");
    } else if (kind === "bridge")
      void serveBrowseBridge(site.root, browse!.pageOrigins(), req, res);
    else
      void beaconAnswer(beacons, req.method, req.url, () => readBody(req)).then((answer) => {
        if (!answer) return serveHttp1(site, req, res);
        res.writeHead(answer.status, TEXT);
        res.end(answer.text);
      });
  });
  h2.removeAllListeners("stream");
  h2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
    if (headers[":method"] === "CONNECT") {
      for (const listener of libraryListeners) listener.call(h2, stream, headers, ...rest);
      return;
    }
    const kind = browseHost(String(headers[":authority"] ?? headers.host ?? ""));
    if (kind === "none") {
      stream.on("error", () => {});
      stream.respond({ ":status": 404, "content-type": "text/plain; charset=utf-8" });
      stream.end("not a Browse origin\n");
    } else if (kind === "bridge")
      void serveBrowseBridge2(site.root, browse!.pageOrigins(), stream, headers);
    else {
      const method = headers[":method"];
      const path = headers[":path"];
      void beaconAnswer(beacons, method, path, () => readBody(stream)).then((answer) => {
        if (!answer) return serveHttp2(site, stream, headers);
        stream.on("error", () => {});
        if (stream.destroyed) return;
        stream.respond({ ":status": answer.status, ...TEXT });
        stream.end(answer.text);
      });
    }
  });
}
