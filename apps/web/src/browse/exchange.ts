/**
 * One request of a Browse origin, in the tunnel worker, made as a browser would make it to the
 * server inside the tunnel, and its answer turned into what a browser would show:
 *
 * - request headers: the app's own (as its Service Worker saw them), with Host, Origin, Referer
 *   and Cookie those of the server's own origin (`http://10.79.0.1:8080`), the browser's
 *   User-Agent, and only the encodings this worker can decode in Accept-Encoding;
 * - Set-Cookie goes to the target's jar (cookies.ts), never to the page;
 * - a compressed body is decoded (a Service Worker's Response is never decoded by the browser);
 * - Location naming the server (or another server inside the tunnel) is moved to its Browse
 *   origin, so the browser follows redirects onto the right origin;
 * - HTML documents get the bridge's scripts first (INJECTED).
 *
 * Answers stream (chunked, event streams, long polls) as they arrive.
 */
import { NetstackError } from "@wiregate/netstack";
import { addressLiteral } from "../dns/resolver.js";
import type { HttpPortMessage } from "../protocol.js";
import type { BrowseCookies, SameSiteContext } from "./cookies.js";
import type { HttpPool } from "./http-pool.js";
import type { BrowseContext, BrowseRequest } from "./messages.js";
import {
  browseOrigin,
  type OriginBase,
  parseAddress,
  targetOfOrigin,
  targetOrigin,
} from "./target.js";

export type { BrowseContext, BrowseRequest };

/** The head of an answer, with what `document.cookie` reads after it when it set cookies. */
export type BrowsePortMessage =
  | (HttpPortMessage & { type: "head"; scriptCookies?: string })
  | Exclude<HttpPortMessage, { type: "head" }>;

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "te"]);
/** Request headers the client writes itself: framing, the target, the server's origin. */
const OURS = new Set([
  ...HOP_BY_HOP,
  "host",
  "content-length",
  "accept-encoding",
  "cookie",
  "origin",
  "referer",
  "proxy-authorization",
]);
/** Never passed to the browser: the jar has them; hop-by-hop ones are this connection's. */
const DROPPED = new Set([...HOP_BY_HOP, "set-cookie", "set-cookie2"]);

/**
 * The scripts every HTML document shown gets first: its cookies as `document.cookie` reads them
 * (answered by the origin's Service Worker), then the bridge's shims (served by the relay).
 */
export const INJECTED = [
  '<script src="/__wiregate/cookies.js"></script>',
  '<script src="/__wiregate/inject.js"></script>',
  '<script src="/__wiregate/websocket.js"></script>',
].join("");

/** Encodings a DecompressionStream here can decode, as Accept-Encoding names them. */
export function decodableEncodings(): string[] {
  const formats: [string, string][] = [
    ["gzip", "gzip"],
    ["deflate", "deflate"],
    ["br", "brotli"],
  ];
  return formats
    .filter(([, format]) => {
      try {
        new DecompressionStream(format as CompressionFormat);
        return true;
      } catch {
        return false;
      }
    })
    .map(([name]) => name);
}

/** "http://v4-….wiregate.localhost:4480/a" → "http://10.79.0.1:8080/a" (another target's too). */
export function serverUrl(base: OriginBase, url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    const target = targetOfOrigin(base, parsed.origin);
    return target ? `${targetOrigin(target)}${parsed.pathname}${parsed.search}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How a request relates to its target's site (RFC 6265bis 5.2). Only navigations reach this origin
 * from another: a fetch, image or script of another origin is answered by that origin's own
 * Service Worker, which never sends it here. A navigation from this origin is same-site; one from
 * elsewhere (or with no referrer, like the Browse screen's own) is lax by GET, cross-site else.
 */
export function sameSiteContext(context: BrowseContext, request: BrowseRequest): SameSiteContext {
  if (request.mode !== "navigate") return "strict";
  let from: string | undefined;
  try {
    from = request.referrer ? new URL(request.referrer).origin : undefined;
  } catch {
    from = undefined;
  }
  if (from === browseOrigin(context.base, context.target)) return "strict";
  return request.method === "GET" || request.method === "HEAD" ? "lax" : "none";
}

/** The request's headers as the server inside the tunnel gets them. */
export function requestHeaders(
  context: BrowseContext,
  request: BrowseRequest,
  own: { cookie: string; userAgent: string; encodings: readonly string[] },
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (!OURS.has(lower) && !/^(sec-|proxy-)/.test(lower)) headers[lower] = value;
  }
  headers["user-agent"] ??= own.userAgent;
  headers.accept ??= "*/*";
  headers["accept-encoding"] = own.encodings.length > 0 ? own.encodings.join(", ") : "identity";
  if (own.cookie) headers.cookie = own.cookie;
  const referer = serverUrl(context.base, request.referrer);
  if (referer) headers.referer = referer;
  // Browsers send Origin with every request that is not a GET or HEAD, and with CORS requests.
  const safe = request.method === "GET" || request.method === "HEAD";
  if (!safe || request.mode === "cors") {
    const from = referer ? new URL(referer).origin : undefined;
    headers.origin = from ?? (request.mode === "navigate" ? "null" : targetOrigin(context.target));
  }
  return headers;
}

/** A Location the browser follows: onto the Browse origin of the server it names, if one. */
export function browseLocation(context: BrowseContext, location: string): string {
  // Relative locations stay relative: they resolve against the Browse origin by themselves.
  if (!/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith("//")) return location;
  let url: URL;
  try {
    url = new URL(location, targetOrigin(context.target));
  } catch {
    return location;
  }
  if (url.protocol !== "http:") return location;
  const parsed = parseAddress(url.href);
  if ("error" in parsed) return location;
  return `${browseOrigin(context.base, parsed.target)}${url.pathname}${url.search}${url.hash}`;
}

/**
 * Puts INJECTED after `<head…>` (or the doctype, or at the start) of an HTML stream, looking at its
 * first 4 KiB only.
 */
export function injectScripts(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const LOOK = 4096;
  let pending = new Uint8Array(0);
  let done = false;
  // Never more than LOOK bytes as arguments: a whole chunk spread into one call overflows a
  // worker's stack (measured in Chromium's workers: 30 KB pass, 68 KB do not), and a document
  // whose first chunk was that big (Syncthing's 68 KB page, decompressed at once) ended in an
  // error before its first byte: the tab stayed blank.
  const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes.subarray(0, LOOK));
  const insert = (bytes: Uint8Array): Uint8Array => {
    const text = latin1(bytes);
    const at =
      /<head(\s[^>]*)?>/i.exec(text) ??
      /<!doctype[^>]*>/i.exec(text) ??
      ({ index: 0, 0: "" } as unknown as RegExpExecArray);
    const cut = at.index + at[0].length;
    const script = new TextEncoder().encode(INJECTED);
    const out = new Uint8Array(bytes.length + script.length);
    out.set(bytes.subarray(0, cut));
    out.set(script, cut);
    out.set(bytes.subarray(cut), cut + script.length);
    return out;
  };
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (done) {
          controller.enqueue(chunk);
          return;
        }
        const joined = new Uint8Array(pending.length + chunk.length);
        joined.set(pending);
        joined.set(chunk, pending.length);
        pending = joined;
        if (pending.length >= LOOK || /<head(\s[^>]*)?>/i.test(latin1(pending))) {
          done = true;
          controller.enqueue(insert(pending));
        }
      },
      flush(controller) {
        if (!done) controller.enqueue(insert(pending));
      },
    }),
  );
}

function describe(e: unknown): string {
  if (e instanceof NetstackError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** Bodies up to this size are read at once: head and body then leave in one write. */
const SMALL_BODY = 64 * 1024;

/**
 * A request body for the server: a small one as bytes, a larger one streamed from its Blob with
 * its length (Content-Length, never chunked: browsers send no chunked uploads over HTTP/1.1, and
 * many servers take none), a piece at a time as TCP takes it.
 */
async function requestBody(
  blob: Blob,
): Promise<{ body: Uint8Array } | { body: ReadableStream<Uint8Array>; bodyLength: number }> {
  if (blob.size <= SMALL_BODY) return { body: new Uint8Array(await blob.arrayBuffer()) };
  return { body: blob.stream(), bodyLength: blob.size };
}

/** The tunnel's TCP side: its keep-alive pool, and its resolver for names (dns/). */
export interface BrowseNet {
  http: HttpPool;
  addressOf(host: string): Promise<string>;
}

/** One request of a Browse origin; the answer streams back over `port`. */
export async function browseExchange(
  tcp: BrowseNet,
  cookies: BrowseCookies,
  context: BrowseContext,
  request: BrowseRequest,
  port: MessagePort,
  userAgent: string,
): Promise<void> {
  const post = (m: BrowsePortMessage, transfer: Transferable[] = []) =>
    port.postMessage(m, transfer);
  let cancelled = false;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  // The page stopped reading (a closed event stream, a frame navigated away): so do we.
  port.onmessage = (event: MessageEvent<{ type?: string }>) => {
    if (event.data?.type !== "cancel") return;
    cancelled = true;
    void reader?.cancel().catch(() => {});
  };
  const { target } = context;
  try {
    if (!request.path.startsWith("/")) throw new TypeError(`path '${request.path}' is not a path`);
    const site = sameSiteContext(context, request);
    const encodings = decodableEncodings();
    const cookie = await cookies.header(target, request.path, site);
    const headers = requestHeaders(context, request, { cookie, userAgent, encodings });
    // A name goes through the tunnel's resolver; the Host header keeps the name.
    const address = addressLiteral(target.host) ? target.host : await tcp.addressOf(target.host);
    if (address !== target.host)
      headers.host = target.port === 80 ? target.host : `${target.host}:${target.port}`;
    // One pool per target (its origin), like a browser's: connections are reused across requests.
    const response = await tcp.http.request(targetOrigin(target), address, target.port, {
      host: address,
      port: target.port,
      method: request.method,
      path: request.path,
      headers,
      ...(request.body ? await requestBody(request.body) : {}),
    });
    const setCookies = response.headerList.filter(([n]) => n === "set-cookie").map(([, v]) => v);
    if (setCookies.length > 0) await cookies.fromResponse(target, request.path, setCookies, site);
    let body = response.body;
    const encoding = (response.headers["content-encoding"] ?? "").trim().toLowerCase();
    const decoded = encoding !== "" && encoding !== "identity" && encodings.includes(encoding);
    if (decoded) {
      const format = (encoding === "br" ? "brotli" : encoding) as CompressionFormat;
      body = body.pipeThrough(
        new DecompressionStream(format) as ReadableWritablePair<Uint8Array, Uint8Array>,
      );
    }
    const html = /^\s*text\/html\b/i.test(response.headers["content-type"] ?? "");
    const document = ["document", "iframe", "frame"].includes(request.destination ?? "");
    const inject = html && document && request.method !== "HEAD";
    if (inject) body = injectScripts(body);
    const list: [string, string][] = [];
    for (const [name, value] of response.headerList) {
      if (DROPPED.has(name)) continue;
      if ((decoded || inject) && (name === "content-length" || name === "content-encoding"))
        continue;
      list.push([name, name === "location" ? browseLocation(context, value) : value]);
    }
    post({
      type: "head",
      status: response.status,
      statusText: response.statusText,
      headers: list,
      ...(setCookies.length > 0
        ? { scriptCookies: await cookies.forScript(target, request.path) }
        : {}),
    });
    reader = body.getReader();
    if (cancelled) await reader.cancel();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      post({ type: "chunk", data: value }, [value.buffer as ArrayBuffer]);
    }
    post({ type: "end" });
  } catch (e) {
    post({ type: "error", message: describe(e) });
  } finally {
    port.close();
  }
}
