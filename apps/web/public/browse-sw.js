// The Browse screen's Service Worker. Requests under ./browse/<host[:port]>/ — and every
// same-origin request made by a page shown there — are sent as HTTP/1.1 through the tunnel: this
// worker hands them to the Wiregate page, whose tunnel worker speaks TCP inside WireGuard.
// Plain JavaScript on purpose: it is served as is, at a fixed URL, next to index.html.

const scope = () => new URL(self.registration.scope).pathname;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/** "10.99.0.1:8080/a/b" → { host, port, rest } or null. */
function target(path) {
  const slash = path.indexOf("/");
  const authority = decodeURIComponent(slash < 0 ? path : path.slice(0, slash));
  const rest = slash < 0 ? "/" : path.slice(slash);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return null;
  return { host: m[1] ?? m[2], port: m[3] ? Number(m[3]) : 80, rest };
}

async function resolve(event, url) {
  const base = scope();
  if (url.pathname.startsWith(base)) return target(url.pathname.slice(base.length));
  // A page shown under the scope asked for an absolute path (/style.css): same host.
  const client = event.clientId ? await self.clients.get(event.clientId) : undefined;
  if (!client) return null;
  const from = new URL(client.url);
  if (!from.pathname.startsWith(base)) return null;
  const t = target(from.pathname.slice(base.length));
  return t && { ...t, rest: url.pathname };
}

async function tunnelPage() {
  const all = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  return all.find((c) => !new URL(c.url).pathname.startsWith(scope()));
}

function text(status, message) {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-wiregate": "browse" },
  });
}

async function forward(event, t, url) {
  const page = await tunnelPage();
  if (!page) return text(503, "Wiregate: open the Wiregate page and connect the tunnel first.");
  const request = event.request;
  const headers = {};
  for (const name of ["accept", "content-type", "range", "accept-language"]) {
    const value = request.headers.get(name);
    if (value) headers[name] = value;
  }
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const body = hasBody ? new Uint8Array(await request.arrayBuffer()) : undefined;
  const channel = new MessageChannel();
  const message = {
    type: "wiregate-http",
    request: {
      host: t.host,
      port: t.port,
      method: request.method,
      path: t.rest + url.search,
      headers,
      body,
    },
  };
  page.postMessage(message, [channel.port2]);
  return new Promise((resolveResponse) => {
    let controller;
    channel.port1.onmessage = ({ data }) => {
      if (data.type === "head") {
        const nullBody = [101, 204, 205, 304].includes(data.status) || request.method === "HEAD";
        const stream = nullBody ? null : new ReadableStream({ start: (c) => (controller = c) });
        const status = data.status >= 200 && data.status <= 599 ? data.status : 502;
        const h = new Headers(data.headers);
        h.set("x-wiregate", "browse");
        resolveResponse(new Response(stream, { status, statusText: data.statusText, headers: h }));
      } else if (data.type === "chunk") controller?.enqueue(data.data);
      else if (data.type === "end") controller?.close();
      else if (data.type === "error") {
        if (controller) controller.error(new Error(data.message));
        else resolveResponse(text(502, `Wiregate: ${data.message}`));
      }
    };
  });
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin) return; // another origin: not through the tunnel
  event.respondWith(
    resolve(event, url).then((t) => (t ? forward(event, t, url) : fetch(event.request))),
  );
});
