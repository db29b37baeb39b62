/** Serves a directory (the web client's build) over HTTP/1.1 and HTTP/2 on the relay's TLS port. */

import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { extname, join, normalize, relative as relativePath, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

type Answer = { status: number; file?: string; size?: number; type: string; body?: string };

/**
 * What the web client needs and nothing more: its own scripts, styles and workers; relays on any
 * https/wss origin (the user may enter one); no inline code, no framing, no plugins.
 * 'wasm-unsafe-eval' lets the tunnel worker compile libsodium's WebAssembly (its AEAD); it allows
 * no JavaScript eval.
 */
export function contentSecurityPolicy(browseDomains: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self'",
    // Browse shows each web server inside the tunnel on an origin of its own (browse-origin.ts):
    // under localhost on the loopback listener, under the Browse domain on a public relay.
    `frame-src 'self' http://*.localhost:*${browseDomains.map((d) => ` https://*.${d}:*`).join("")}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' https: wss:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The policy of a relay without a Browse domain. */
export const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

/** Sent with every answer of the TLS port. Built assets carry a content hash: cached for good. */
export function securityHeaders(
  urlPath: string,
  policy = CONTENT_SECURITY_POLICY,
): Record<string, string> {
  const immutable = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(
    urlPath.split("?")[0] ?? "",
  );
  return {
    "content-security-policy": policy,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    // Browse's "open in new tab" keeps the tab's opener: the tab asks this page for its port.
    "cross-origin-opener-policy": "same-origin-allow-popups",
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
  };
}

/** What the TLS port serves besides WebTransport: a directory, plus documents made at run time. */
export interface StaticSite {
  root: string | null;
  /** Exact paths answered with a JSON body (e.g. the page's defaults, /wiregate.json). */
  generated?: ReadonlyMap<string, string>;
  /** The page's Content-Security-Policy (default: CONTENT_SECURITY_POLICY). */
  policy?: string;
}

/** Maps a request path to a file inside `root`, refusing anything that escapes it. */
export async function resolveStatic(
  site: StaticSite,
  method: string,
  urlPath: string,
): Promise<Answer> {
  const root = site.root;
  const text = (status: number, body: string): Answer => ({
    status,
    body,
    type: "text/plain; charset=utf-8",
  });
  if (urlPath === "/healthz") return text(200, "ok\n");
  if (method !== "GET" && method !== "HEAD") return text(405, "method not allowed\n");
  const generated = site.generated?.get(urlPath.split("?")[0] ?? "");
  if (generated !== undefined) return { status: 200, body: generated, type: TYPES[".json"]! };
  if (root === null) return text(404, "no static directory configured\n");
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split("?")[0] ?? "/");
  } catch {
    return text(400, "bad path\n");
  }
  if (path.includes("\0")) return text(400, "bad path\n");
  const relative = normalize(path).replace(/^([/\\])+/, "");
  if (relative.split(sep).includes("..")) return text(403, "forbidden\n");
  // Dotfiles (.env, .git, ...) are never part of a site.
  if (relative.split(sep).some((part) => part.startsWith("."))) return text(404, "not found\n");
  let file = join(root, relative);
  try {
    let info = await stat(file);
    if (info.isDirectory()) {
      file = join(file, "index.html");
      info = await stat(file);
    }
    if (!info.isFile()) return text(404, "not found\n");
    // No symbolic links: the file's real path must be the path asked for, inside the real root.
    const realRoot = await realpath(root);
    if ((await realpath(file)) !== join(realRoot, relativePath(root, file)))
      return text(404, "not found\n");
    return {
      status: 200,
      file,
      size: info.size,
      type: TYPES[extname(file)] ?? "application/octet-stream",
    };
  } catch {
    return text(404, relative === "" ? "web client not built\n" : "not found\n");
  }
}

export async function serveHttp2(
  site: StaticSite,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
) {
  const method = String(headers[":method"] ?? "GET");
  const answer = await resolveStatic(site, method, String(headers[":path"] ?? "/"));
  if (stream.destroyed) return;
  stream.on("error", () => {});
  const head = {
    ":status": answer.status,
    "content-type": answer.type,
    ...securityHeaders(String(headers[":path"] ?? "/"), site.policy),
  };
  if (answer.file && method === "GET") {
    stream.respondWithFile(answer.file, head, { onError: () => stream.destroy() });
  } else {
    stream.respond(head);
    stream.end(method === "HEAD" ? undefined : answer.body);
  }
}

export async function serveHttp1(site: StaticSite, req: IncomingMessage, res: ServerResponse) {
  const method = req.method ?? "GET";
  const answer = await resolveStatic(site, method, req.url ?? "/");
  res.on("error", () => {});
  res.writeHead(answer.status, {
    "content-type": answer.type,
    ...securityHeaders(req.url ?? "/", site.policy),
  });
  if (answer.file && method === "GET")
    createReadStream(answer.file)
      .on("error", () => res.destroy())
      .pipe(res);
  else res.end(method === "HEAD" ? undefined : answer.body);
}
