/**
 * Browse origins: each web server inside a tunnel is shown on an origin of its own,
 * `http://<target label>.localhost:<port>/` on the loopback listener (browsers resolve `*.localhost`
 * to loopback and count it as a secure context). The page's own code never runs there; the relay
 * answers those hosts with the Browse bridge only (see docs/web.md, "Browse origins"):
 *
 * - `/__wiregate/bridge.js`, `sw.js` (the origin's Service Worker, allowed the scope `/`) and
 *   `inject.js` (the script put into the shown app's HTML), `websocket.js` (its WebSocket);
 * - `/__wiregate/pages.json`: the origins of the Wiregate page, the only windows the bridge takes a
 *   tunnel port from;
 * - every other path: the bridge page, which sets the Service Worker up and reloads (what a frame
 *   or a new tab gets before the Service Worker controls it).
 *
 * A public relay with a Browse domain (`--browse-domain browse.relay.example.org`) serves the same
 * on its TLS port to `https://<label>.browse.relay.example.org/`, and nothing else to any host
 * under that domain.
 *
 * Never the web client, `wiregate.json`, WebSocket or WebTransport sessions (refused by the origin
 * check and the listener), and only GET and HEAD.
 */

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { join } from "node:path";

/** The folder of the web client's build that holds the bridge. */
export const BRIDGE_DIR = "__wiregate";

const FILES: Record<string, string> = {
  "bridge.js": "text/javascript; charset=utf-8",
  "sw.js": "text/javascript; charset=utf-8",
  "inject.js": "text/javascript; charset=utf-8",
  "websocket.js": "text/javascript; charset=utf-8",
  "bridge.html": "text/html; charset=utf-8",
};

/**
 * The name the loopback listener also serves the page under. Browse origins below it
 * (`<label>.wiregate.localhost`) are of the page's own site, so browsers give their Service Workers
 * first-party storage even where third-party storage is blocked (Chromium's incognito windows).
 */
export const PAGE_NAME = "wiregate.localhost";

/**
 * The label of a Browse host (`v4-80-10-99-0-1.localhost`, `…​.wiregate.localhost`, or one under
 * a Browse domain), or undefined for another host. Labels are those the page writes
 * (apps/web/src/browse/target.ts).
 */
export function browseLabel(hostname: string, domains: readonly string[] = []): string | undefined {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  const label = /^((?:v4|v6|dn)-\d{1,5}-[a-z0-9-]{1,55})\.(.+)$/.exec(host);
  if (!label) return undefined;
  const [, name, base] = label;
  return base === "localhost" || base === PAGE_NAME || domains.some((d) => d.toLowerCase() === base)
    ? name
    : undefined;
}

/** The host name of a Host header ("127.0.0.1:4480", "[::1]:4480", "localhost"), lower case. */
export function hostName(header: string | undefined): string {
  const host = (header ?? "").toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.replace(/:\d+$/, "");
}

/** Whether `hostname` is under one of the Browse domains (a Browse host or not). */
export function inBrowseDomain(hostname: string, domains: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return domains.some((d) => host.endsWith(`.${d.toLowerCase()}`));
}

/**
 * Whether an origin (`http://x.localhost:4480`, `https://x.browse.relay.example.org`) is a Browse
 * origin, or any other under a Browse domain: it may open no session.
 */
export function isBrowseOrigin(origin: string, domains: readonly string[] = []): boolean {
  try {
    const { hostname } = new URL(origin);
    return browseLabel(hostname, domains) !== undefined || inBrowseDomain(hostname, domains);
  } catch {
    return false;
  }
}

/** Headers of every bridge answer: framed only by the Wiregate page, scripts only its own. */
function bridgeHeaders(pageOrigins: readonly string[], type: string): Record<string, string> {
  return {
    "content-type": type,
    "content-security-policy": [
      "default-src 'none'",
      "script-src 'self'",
      "connect-src 'self'",
      // (A CSP source cannot be an IPv6 literal: a page at [::1] cannot frame Browse origins.)
      `frame-ancestors ${pageOrigins.filter((o) => !o.includes("[")).join(" ") || "'none'"}`,
      "base-uri 'none'",
      "form-action 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
  };
}

/** Where an answer goes: an HTTP/1.1 response or an HTTP/2 stream. */
interface Reply {
  send(status: number, headers: Record<string, string>, body: string | undefined): void;
  file(path: string, headers: Record<string, string>): void;
}

/** Answers a request to a Browse host; `root` is the web client's build. */
async function answerBrowse(
  root: string | null,
  pageOrigins: readonly string[],
  method: string,
  url: string,
  reply: Reply,
): Promise<void> {
  const text = (status: number, body: string) =>
    reply.send(
      status,
      bridgeHeaders(pageOrigins, "text/plain; charset=utf-8"),
      method === "HEAD" ? undefined : body,
    );
  if (method !== "GET" && method !== "HEAD") return text(405, "method not allowed\n");
  const path = url.split("?")[0] ?? "/";
  if (path === `/${BRIDGE_DIR}/pages.json`) {
    const body = JSON.stringify({ pages: pageOrigins });
    reply.send(
      200,
      bridgeHeaders(pageOrigins, "application/json"),
      method === "HEAD" ? undefined : body,
    );
    return;
  }
  const name = path.startsWith(`/${BRIDGE_DIR}/`) ? path.slice(BRIDGE_DIR.length + 2) : "";
  const file = name in FILES ? name : "bridge.html";
  if (path.startsWith(`/${BRIDGE_DIR}/`) && !(name in FILES)) return text(404, "not found\n");
  if (root === null) return text(404, "no static directory configured\n");
  const full = join(root, BRIDGE_DIR, file);
  try {
    if (!(await stat(full)).isFile()) return text(404, "not found\n");
  } catch {
    return text(404, "the web client's Browse bridge is not built\n");
  }
  const headers = bridgeHeaders(pageOrigins, FILES[file]!);
  // The Service Worker lives under /__wiregate/ but answers for the whole origin.
  if (file === "sw.js") headers["service-worker-allowed"] = "/";
  if (method === "HEAD") reply.send(200, headers, undefined);
  else reply.file(full, headers);
}

/** Answers an HTTP/1.1 request to a Browse host; `root` is the web client's build. */
export function serveBrowseBridge(
  root: string | null,
  pageOrigins: readonly string[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  res.on("error", () => {});
  return answerBrowse(root, pageOrigins, req.method ?? "GET", req.url ?? "/", {
    send(status, headers, body) {
      res.writeHead(status, headers);
      res.end(body);
    },
    file(path, headers) {
      res.writeHead(200, headers);
      createReadStream(path)
        .on("error", () => res.destroy())
        .pipe(res);
    },
  });
}

/** Answers an HTTP/2 stream to a Browse host (a public relay's TLS port). */
export function serveBrowseBridge2(
  root: string | null,
  pageOrigins: readonly string[],
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): Promise<void> {
  stream.on("error", () => {});
  const method = String(headers[":method"] ?? "GET");
  return answerBrowse(root, pageOrigins, method, String(headers[":path"] ?? "/"), {
    send(status, head, body) {
      if (stream.destroyed) return;
      stream.respond({ ":status": status, ...head });
      stream.end(body);
    },
    file(path, head) {
      if (stream.destroyed) return;
      stream.respondWithFile(
        path,
        { ":status": 200, ...head },
        { onError: () => stream.destroy() },
      );
    },
  });
}
