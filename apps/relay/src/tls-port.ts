/**
 * Reaches the node:http2 server inside the library's Http2Server to (1) set no-delay on every TLS
 * socket — Nagle plus delayed ACKs otherwise add ~40 ms per round trip — and (2) answer ordinary
 * GET requests (static files, /healthz) on the same origin. The library only handles CONNECT
 * streams and WebSocket upgrades; everything else is routed here.
 */

import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import { type StaticSite, serveHttp1, serveHttp2 } from "./static-files.js";

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
): void {
  h2.on("secureConnection", (socket: TLSSocket) => {
    socket.setNoDelay(true);
    onSocket(socket);
  });
  const libraryListeners = h2.listeners("stream") as StreamListener[];
  // Adding a 'request' listener makes node add its compatibility 'stream' listener; HTTP/1.1
  // requests keep arriving as 'request', HTTP/2 streams are routed below instead.
  h2.on("request", (req, res) => {
    void serveHttp1(site, req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
  h2.removeAllListeners("stream");
  h2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
    if (headers[":method"] === "CONNECT") {
      for (const listener of libraryListeners) listener.call(h2, stream, headers, ...rest);
    } else {
      void serveHttp2(site, stream, headers);
    }
  });
}
