// The Service Worker of one Browse origin (http://<target>.localhost:4480/, one per web server
// inside the tunnel): it answers every request of its origin — pages, scripts, fetches to absolute
// paths, form posts — by sending it over a MessagePort to the Wiregate page, which hands it to the
// tunnel worker for this one target (the page fixes the target: this worker cannot name another).
// The port comes from the bridge (bridge.js); a worker the browser stopped and started again has
// lost it and asks a bridge or a shown page of its origin for a new one. /__wiregate/ stays the
// relay's (the bridge's files). Plain JavaScript on purpose: served as is, next to the bridge.

const BRIDGE = "/__wiregate/";
/** The Wiregate page's requests port for this origin, and the target's own origin. */
let port = null;
/** The window that handed the port (the page's bridge frame, a shown page, a tab). */
let portGiver = null;
let server = null;
let waiting = [];
/** Windows asked for a port, and what to call when all of them said they have none. */
let asked = 0;
let noPort = () => {};
let nextId = 1;
/** Requests sent and not yet accepted by the page: id → the port it went on, and its ack. */
const pending = new Map();
/** Ports replaced by a newer one, kept open until the acks of requests sent on them came. */
const retired = new WeakSet();

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("message", (event) => {
  const data = event.data;
  if (data?.type === "wiregate-websocket" && event.ports[0]) {
    event.waitUntil(openWebSocket(data, event.ports[0]));
    return;
  }
  if (data?.type === "wiregate-set-cookie" && typeof data.cookie === "string") {
    // document.cookie = … in a shown page (inject.js): to the target's jar.
    event.waitUntil(
      getPort().then((to) =>
        to?.postMessage({ type: "set-cookie", path: String(data.path), cookie: data.cookie }),
      ),
    );
    return;
  }
  if (data?.type === "wiregate-no-port") {
    if (--asked <= 0) noPort();
    return;
  }
  if (data?.type !== "wiregate-port" || !event.ports[0]) return;
  usePort(event.ports[0], data.server, event.source?.id ?? null);
  event.ports[1]?.postMessage({ type: "wiregate-port-taken" });
});

function usePort(next, serverOrigin, giver) {
  const old = port;
  port = next;
  portGiver = giver;
  server = typeof serverOrigin === "string" ? serverOrigin : null;
  port.onmessage = ({ data }) => {
    if (data?.type === "accepted") pending.get(data.id)?.accepted();
  };
  // Several windows asked at once each hand a port: a request already sent on the one replaced
  // still gets its ack there (closing it would lose the ack, and the request would wait 10 s).
  if (old && old !== next) retire(old);
  const ready = waiting;
  waiting = [];
  for (const resolve of ready) resolve(port);
}

/** Closes a replaced port once no request sent on it waits for its ack. */
function retire(old) {
  retired.add(old);
  for (const request of pending.values()) if (request.port === old) return;
  old.close();
}

/** A request's ack came, or never will: forgets it (and its port, if that was replaced). */
function settle(id) {
  const request = pending.get(id);
  pending.delete(id);
  if (request && retired.has(request.port)) retire(request.port);
}

/** The port, or a new one asked of a bridge or shown page of this origin (null if none answers). */
async function getPort() {
  const current = port;
  // The window that handed the port is gone (closed with its Wiregate page, most often): the
  // port may be dead, and a message to a dead port is dropped without a word. Ask the windows
  // still here instead of waiting 10 s for an ack that cannot come.
  if (current && portGiver && !(await self.clients.get(portGiver)) && port === current) {
    retire(current);
    port = null;
  }
  if (port) return port;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  if (windows.length === 0) return null;
  const got = new Promise((resolve) => waiting.push(resolve));
  // The hidden bridge first: it lives as long as the Wiregate page shows this origin.
  windows.sort((a, b) => Number(b.url.includes(BRIDGE)) - Number(a.url.includes(BRIDGE)));
  asked = windows.length;
  for (const client of windows) client.postMessage({ type: "wiregate-need-port" });
  // Every window said it has no Wiregate page to ask, or none answered in 10 s: no port.
  const none = new Promise((resolve) => {
    noPort = () => resolve(null);
    setTimeout(() => resolve(null), 10_000);
  });
  return Promise.race([got, none]);
}

/**
 * A WebSocket of a page of this origin (websocket.js): its port goes to the Wiregate page, which
 * has the tunnel worker connect to this origin's target; the frames then flow between the page
 * and the tunnel worker, not through this worker (which the browser may stop at any time).
 */
async function openWebSocket(data, socketPort) {
  const to = await getPort();
  if (!to) {
    socketPort.postMessage({ type: "error", message: NO_WIREGATE });
    socketPort.postMessage({ type: "closed", code: 1006, reason: "", wasClean: false });
    return;
  }
  const path = typeof data.path === "string" ? data.path : "/";
  const protocols = Array.isArray(data.protocols) ? data.protocols.map(String) : [];
  to.postMessage(
    {
      type: "websocket",
      request: { path, protocols, headers: [["user-agent", navigator.userAgent]] },
    },
    [socketPort],
  );
}

function text(status, message) {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-wiregate": "browse" },
  });
}

const NO_WIREGATE =
  "Wiregate: this page comes from inside a WireGuard tunnel, and the Wiregate page that showed it is closed or not connected. Open Wiregate, connect, and show it again from the Browse screen.";

/**
 * The request's body as a Blob: this worker never holds its bytes (a large one stays in the
 * browser's blob store, on disk), its size is the Content-Length, and the tunnel worker streams it
 * to the server. Browsers send no chunked uploads over HTTP/1.1, so neither do we.
 */
async function bodyOf(request) {
  if (request.method === "GET" || request.method === "HEAD") return undefined;
  return request.blob();
}

/**
 * /__wiregate/cookies.js: the first script of every shown HTML page, what its document.cookie
 * reads (no HttpOnly cookies), from the target's jar in the tunnel worker.
 */
async function scriptCookies(request) {
  const to = await getPort();
  let path = "/";
  try {
    const from = new URL(request.referrer);
    if (from.origin === self.location.origin) path = from.pathname;
  } catch {
    // No referrer: the root's cookies.
  }
  let value = "";
  if (to) {
    const channel = new MessageChannel();
    const answered = new Promise((resolve) => {
      channel.port1.onmessage = ({ data }) => resolve(typeof data === "string" ? data : "");
      setTimeout(() => resolve(""), 5000);
    });
    to.postMessage({ type: "cookies", path }, [channel.port2]);
    value = await answered;
    channel.port1.close();
  }
  return new Response(`window.wiregateCookies = ${JSON.stringify(value)};\n`, {
    headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" },
  });
}

/** Sends one request through the page; resolves with the Response. */
async function forward(request, path, clientId, body, attempt = 0) {
  const to = await getPort();
  if (!to) return text(503, NO_WIREGATE);
  const channel = new MessageChannel();
  const id = nextId++;
  const message = {
    type: "request",
    id,
    request: {
      method: request.method,
      path,
      headers: [...request.headers],
      referrer: request.referrer,
      mode: request.mode,
      destination: request.destination,
      ...(body ? { body } : {}),
    },
  };
  // The page says at once that it took the request; no word means its port is dead (the page was
  // closed or reloaded): ask for a new one, once. (Generous: a busy page may take seconds.)
  const accepted = new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    pending.set(id, {
      port: to,
      accepted: () => {
        clearTimeout(timer);
        resolve(true);
      },
    });
  });
  // The body (a Blob) goes by reference: a retry on a new port sends it again.
  to.postMessage(message, [channel.port2]);
  if (!(await accepted)) {
    settle(id);
    channel.port1.close();
    if (port === to) port = null;
    return attempt === 0 ? forward(request, path, clientId, body, 1) : text(503, NO_WIREGATE);
  }
  settle(id);
  return new Promise((resolveResponse) => {
    let controller;
    channel.port1.onmessage = ({ data }) => {
      if (data.type === "head") {
        const nullBody = [101, 204, 205, 304].includes(data.status) || request.method === "HEAD";
        const stream = nullBody
          ? null
          : new ReadableStream({
              start: (c) => (controller = c),
              cancel: () => channel.port1.postMessage({ type: "cancel" }),
            });
        const status = data.status >= 200 && data.status <= 599 ? data.status : 502;
        const headers = new Headers();
        for (const [name, value] of data.headers) {
          try {
            headers.append(name, value);
          } catch {
            // A header this browser will not carry (a forbidden name): dropped.
          }
        }
        headers.set("x-wiregate", "browse");
        // The answer set cookies a script may read: the page that asked sees them at once.
        if (typeof data.scriptCookies === "string" && clientId)
          self.clients
            .get(clientId)
            .then((client) =>
              client?.postMessage({ type: "wiregate-cookies", value: data.scriptCookies }),
            );
        resolveResponse(new Response(stream, { status, statusText: data.statusText, headers }));
      } else if (data.type === "chunk") controller?.enqueue(data.data);
      else if (data.type === "end") {
        controller?.close();
        channel.port1.close();
      } else if (data.type === "error") {
        if (controller) controller.error(new Error(data.message));
        else resolveResponse(text(502, `Wiregate: ${data.message}`));
        channel.port1.close();
      }
    };
  });
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  let path;
  if (url.origin === self.location.origin) {
    if (url.pathname === `${BRIDGE}cookies.js`) {
      event.respondWith(scriptCookies(event.request));
      return;
    }
    if (url.pathname.startsWith(BRIDGE)) return; // the bridge's own files, from the relay
    path = url.pathname + url.search;
  } else if (server && url.origin === server) {
    // The app names its server's own address (http://10.79.0.1:8080/api): the same target.
    path = url.pathname + url.search;
  } else return; // another origin: the browser's own business
  event.respondWith(
    bodyOf(event.request).then((body) => forward(event.request, path, event.clientId, body)),
  );
});
