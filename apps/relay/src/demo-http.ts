/**
 * The demo peer's web site inside the tunnel (served by @wiregate/netstack on 10.99.0.1:80 and
 * [fd99::1]:80): a status page with a stylesheet and an image, /bytes?n= for download tests and
 * /echo for upload tests.
 */
import type { ServerRequest, ServerResponse } from "@wiregate/netstack";

/** Largest /bytes?n= answered (a test download, not a way to keep the relay busy). */
export const MAX_BYTES = 256 * 1024 * 1024;
/** Largest /echo body accepted. */
export const MAX_ECHO = 64 * 1024 * 1024;

export interface DemoStatus {
  startedAt: number;
  clients: () => number;
  connections: () => number;
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#123}
h1{font-size:1.6em}code{background:#eef;padding:0 .2em}img{width:96px;height:96px}`;

const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96"><rect width="96" height="96" rx="18" fill="#1b4d89"/><path d="M20 30l14 40 14-28 14 28 14-40" fill="none" stroke="#fff" stroke-width="7" stroke-linejoin="round"/></svg>`;

function page(request: ServerRequest, status: DemoStatus): string {
  const uptime = Math.round((performance.now() - status.startedAt) / 1000);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Wiregate demo peer</title>
<link rel="stylesheet" href="/style.css"></head><body>
<img src="/logo.svg" alt="Wiregate logo">
<h1>You are inside the tunnel</h1>
<p>This page exists only inside WireGuard: it is served by the relay's demo peer over
<code>@wiregate/netstack</code> TCP, at <code>10.99.0.1:80</code> and <code>[fd99::1]:80</code>.</p>
<ul>
<li>Your tunnel address: <code id="client">${request.remote}</code> (port ${request.remotePort})</li>
<li>Clients of the demo peer: ${status.clients()}; open TCP connections: ${status.connections()}</li>
<li>Uptime: ${uptime} s</li>
</ul>
<p>Tests: <a href="/bytes?n=1048576">/bytes?n=1048576</a> downloads n bytes;
<code>POST /echo</code> sends the body back.</p>
</body></html>`;
}

/** The bytes /bytes?n= sends: a fixed pattern, so a client can check them without a digest. */
export function demoBytes(n: number): ReadableStream<Uint8Array> {
  const block = Uint8Array.from({ length: 65536 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
  let left = n;
  return new ReadableStream({
    pull: (c) => {
      if (left <= 0) return c.close();
      const k = Math.min(left, block.length);
      c.enqueue(block.slice(0, k));
      left -= k;
    },
  });
}

export function demoHttp(status: DemoStatus) {
  return (request: ServerRequest): ServerResponse => {
    const url = new URL(request.target, "http://demo");
    const html = { "content-type": "text/html; charset=utf-8" };
    switch (url.pathname) {
      case "/":
        return { status: 200, headers: html, body: page(request, status) };
      case "/style.css":
        return { status: 200, headers: { "content-type": "text/css" }, body: STYLE };
      case "/logo.svg":
        return { status: 200, headers: { "content-type": "image/svg+xml" }, body: LOGO };
      case "/bytes": {
        const n = Number(url.searchParams.get("n") ?? "0");
        if (!Number.isInteger(n) || n < 0 || n > MAX_BYTES) {
          return { status: 400, body: `n must be an integer from 0 to ${MAX_BYTES}\n` };
        }
        const headers = { "content-type": "application/octet-stream", "content-length": String(n) };
        return { status: 200, headers, body: demoBytes(n) };
      }
      case "/echo": {
        if (request.method !== "POST" && request.method !== "PUT") {
          return { status: 405, body: "POST or PUT a body to /echo\n" };
        }
        const length = Number(request.headers["content-length"] ?? "0");
        if (!Number.isInteger(length) || length > MAX_ECHO) {
          return { status: 413, body: `at most ${MAX_ECHO} bytes\n` };
        }
        const type = request.headers["content-type"] ?? "application/octet-stream";
        const headers = { "content-type": type, "content-length": String(length) };
        return { status: 200, headers, body: request.body };
      }
      default:
        return { status: 404, headers: html, body: "<h1>404</h1><p>Not here.</p>" };
    }
  };
}
