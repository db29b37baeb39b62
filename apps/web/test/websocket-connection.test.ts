// The tunnel worker's WebSocket (src/browse/websocket-connection.ts) against a real, independent
// server: the `ws` package (the WebSocket server of Node.js's ecosystem), over a real TCP
// connection on loopback. The handshake with the app's subprotocols, Origin and cookies; text and
// binary both ways, fragmented messages, ping/pong, close codes both ways; refusals with clear
// errors; and the bound on what a server can make the worker hold. Then the shown page's
// WebSocket class (public/__wiregate/websocket.js) on top of it, against the same server.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import { createContext, runInContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import {
  runWebSocket,
  type WebSocketPortMessage,
  type WebSocketRequest,
} from "../src/browse/websocket-connection.js";

const SHIM = fileURLToPath(new URL("../public/__wiregate/websocket.js", import.meta.url));
let server: WebSocketServer;
let port: number;
/** What the server saw of each handshake, and the server side of each connection. */
const seen: IncomingMessage[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: false,
    handleProtocols: (protocols) =>
      protocols.has("chat") ? "chat" : protocols.has("rogue") ? "other" : false,
    verifyClient: ({ req }, done) =>
      req.url === "/forbidden" ? done(false, 403, "Forbidden") : done(true),
  });
  await once(server, "listening");
  port = (server.address() as { port: number }).port;
  server.on("connection", (ws, req) => {
    seen.push(req);
    sockets.push(ws);
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      if (text === "fragments") {
        ws.send("frag", { fin: false });
        ws.send("mented ", { fin: false });
        ws.send("wörld", { fin: true });
      } else if (text === "ping") ws.ping("are you there");
      else if (text.startsWith("close ")) ws.close(Number(text.slice(6)), "server says bye");
      else if (text.startsWith("big ")) ws.send(Buffer.alloc(Number(text.slice(4)), 7));
      else ws.send(data, { binary: isBinary });
    });
  });
});

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await new Promise((resolve) => server.close(resolve));
});

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** Opens one WebSocket through runWebSocket; the app's side is `app`, its messages in `events`. */
async function open(request: Partial<WebSocketRequest> = {}, limits = {}) {
  const socket: Socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  const tcp = Duplex.toWeb(socket) as unknown as {
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
  };
  const channel = new MessageChannel();
  const events: WebSocketPortMessage[] = [];
  const waiters: (() => void)[] = [];
  channel.port2.onmessage = ({ data }) => {
    events.push(data);
    for (const w of waiters.splice(0)) w();
  };
  const until = async (test: (e: WebSocketPortMessage) => boolean) => {
    for (;;) {
      const found = events.find(test);
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const done = runWebSocket(
    tcp,
    {
      host: "127.0.0.1",
      port,
      path: "/socket?x=1",
      origin: "http://app.internal:8888",
      protocols: [],
      headers: {},
      ...request,
    },
    channel.port1 as unknown as Parameters<typeof runWebSocket>[2],
    { random, limits },
  );
  const send = (m: WebSocketPortMessage) => channel.port2.postMessage(m);
  return { events, until, done, send, app: channel.port2 };
}

describe("a WebSocket through the worker's connection to a real server", () => {
  it("handshakes with the app's subprotocol, Origin and cookies, and carries text and binary", async () => {
    const ws = await open({
      protocols: ["chat", "superchat"],
      headers: { Cookie: "session=abc; _xsrf=def", "User-Agent": "test" },
    });
    const opened = await ws.until((e) => e.type === "open");
    expect(opened).toMatchObject({ type: "open", protocol: "chat", extensions: "" });
    const req = seen.at(-1)!;
    expect(req.url).toBe("/socket?x=1");
    expect(req.headers.origin).toBe("http://app.internal:8888");
    expect(req.headers.cookie).toBe("session=abc; _xsrf=def");
    expect(req.headers.host).toBe(`127.0.0.1:${port}`);
    expect(req.headers["sec-websocket-extensions"]).toBeUndefined();

    ws.send({ type: "send", data: "héllo" });
    expect(await ws.until((e) => e.type === "message")).toEqual({
      type: "message",
      data: "héllo",
    });
    const binary = new Uint8Array(200_000).map((_, i) => i & 0xff);
    ws.send({ type: "send", data: binary.buffer });
    const back = await ws.until((e) => e.type === "message" && typeof e.data !== "string");
    expect(new Uint8Array((back as { data: ArrayBuffer }).data)).toEqual(binary);
    // What the app sent is reported as written, for its bufferedAmount.
    const sent = ws.events.filter((e) => e.type === "sent").map((e) => e.bytes);
    expect(sent).toEqual([6, 200_000]);

    ws.send({ type: "send", data: "fragments" });
    expect(
      await ws.until((e) => e.type === "message" && e.data === "fragmented wörld"),
    ).toBeTruthy();

    // The server's ping is answered with a pong carrying its payload.
    const pong = once(sockets.at(-1)!, "pong");
    ws.send({ type: "send", data: "ping" });
    expect(String((await pong)[0])).toBe("are you there");

    // The app closes with its code and reason; the server sees them, the app a clean close.
    const serverClosed = once(sockets.at(-1)!, "close");
    ws.send({ type: "close", code: 4001, reason: "app done" });
    const [code, reason] = await serverClosed;
    expect([code, String(reason)]).toEqual([4001, "app done"]);
    expect(await ws.until((e) => e.type === "closed")).toEqual({
      type: "closed",
      code: 4001,
      reason: "app done",
      wasClean: true,
    });
    await ws.done;
  });

  it("a close from the server reaches the app with its code and reason, cleanly", async () => {
    const ws = await open();
    await ws.until((e) => e.type === "open");
    ws.send({ type: "send", data: "close 1001" });
    expect(await ws.until((e) => e.type === "closed")).toEqual({
      type: "closed",
      code: 1001,
      reason: "server says bye",
      wasClean: true,
    });
    await ws.done;
  });

  it("a message over the limit fails the connection (1009 to the server, 1006 to the app)", async () => {
    const ws = await open({}, { maxFrame: 64 * 1024, maxMessage: 64 * 1024 });
    await ws.until((e) => e.type === "open");
    const serverClosed = once(sockets.at(-1)!, "close");
    ws.send({ type: "send", data: `big ${64 * 1024 + 1}` });
    const error = await ws.until((e) => e.type === "error");
    expect(error).toEqual({
      type: "error",
      message: expect.stringMatching(
        /^the server broke the WebSocket protocol: a frame of 65537 bytes is over the limit of 65536$/,
      ),
    });
    expect(await ws.until((e) => e.type === "closed")).toMatchObject({
      code: 1006,
      wasClean: false,
    });
    expect((await serverClosed)[0]).toBe(1009);
    await ws.done;
  });

  it("refusals are clear errors: a 403, a subprotocol not offered, none chosen", async () => {
    const forbidden = await open({ path: "/forbidden" });
    expect(await forbidden.until((e) => e.type === "error")).toEqual({
      type: "error",
      message: `the WebSocket handshake with 127.0.0.1:${port} failed: the server answered 403 Forbidden`,
    });
    expect(await forbidden.until((e) => e.type === "closed")).toMatchObject({ code: 1006 });
    expect(forbidden.events.some((e) => e.type === "open")).toBe(false);

    const rogue = await open({ protocols: ["rogue"] });
    expect(await rogue.until((e) => e.type === "error")).toMatchObject({
      message: expect.stringMatching(/chose the subprotocol 'other', not one offered$/),
    });
    const none = await open({ protocols: ["unknown"] });
    expect(await none.until((e) => e.type === "error")).toMatchObject({
      message: expect.stringMatching(/chose none of the subprotocols offered$/),
    });
  });
});

/** The shown page's WebSocket class (public/__wiregate/websocket.js), loaded as the page loads it. */
function shimClass(location = new URL("http://app.localhost:4480/notebooks/a.ipynb")) {
  class CloseEvent extends Event {
    readonly code: number;
    readonly reason: string;
    readonly wasClean: boolean;
    constructor(type: string, init: { code: number; reason: string; wasClean: boolean }) {
      super(type);
      ({ code: this.code, reason: this.reason, wasClean: this.wasClean } = init);
    }
  }
  const context = createContext({
    EventTarget,
    Event,
    MessageEvent,
    CloseEvent,
    DOMException,
    TextEncoder,
    URL,
    Blob,
    queueMicrotask,
    console: { error: (m: string) => errors.push(m) },
  });
  const errors: string[] = [];
  runInContext(readFileSync(SHIM, "utf8"), context);
  const paths: string[] = [];
  /** Each connection made through the tunnel worker's code to the ws server. */
  const openPort = (path: string, protocols: string[]) => {
    paths.push(path);
    const channel = new MessageChannel();
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      const tcp = Duplex.toWeb(socket) as unknown as Parameters<typeof runWebSocket>[0];
      void runWebSocket(
        tcp,
        { host: "127.0.0.1", port, path, origin: location.origin, protocols, headers: {} },
        channel.port1 as unknown as Parameters<typeof runWebSocket>[2],
        { random },
      );
    });
    return channel.port2;
  };
  const make = context.wiregateWebSocketClass as (
    open: typeof openPort,
    native: unknown,
    location: URL,
  ) => typeof globalThis.WebSocket;
  return { WebSocketClass: make(openPort, undefined, location), errors, paths };
}

/** Every event of a socket, in order, as "type" or "type:detail". */
function record(ws: globalThis.WebSocket) {
  const log: string[] = [];
  const waiters: (() => void)[] = [];
  for (const type of ["open", "message", "error", "close"]) {
    ws.addEventListener(type, (event) => {
      const e = event as unknown as MessageEvent & CloseEvent;
      const detail =
        type === "message"
          ? `:${typeof e.data === "string" ? e.data : e.data instanceof Blob ? `blob ${e.data.size}` : `arraybuffer ${e.data.byteLength}`}`
          : type === "close"
            ? `:${e.code} ${e.reason} ${e.wasClean}`
            : "";
      log.push(`${type}${detail}`);
      for (const w of waiters.splice(0)) w();
    });
  }
  const until = async (entry: string) => {
    while (!log.includes(entry)) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { log, until };
}

describe("the shown page's WebSocket (public/__wiregate/websocket.js) through the worker's connection", () => {
  it("opens, sends and receives text, ArrayBuffer and Blob, counts bufferedAmount, closes cleanly: events in order", async () => {
    const { WebSocketClass, paths } = shimClass();
    const ws = new WebSocketClass("/api/kernels/1/channels?session_id=x", ["chat"]);
    expect(ws.url).toBe("ws://app.localhost:4480/api/kernels/1/channels?session_id=x");
    expect(ws.readyState).toBe(WebSocketClass.CONNECTING);
    expect(() => ws.send("too early")).toThrow(/CONNECTING/);
    const events = record(ws);
    let attribute = 0;
    ws.onmessage = () => attribute++;
    await events.until("open");
    expect([ws.readyState, ws.protocol, ws.extensions]).toEqual([WebSocketClass.OPEN, "chat", ""]);
    expect(paths).toEqual(["/api/kernels/1/channels?session_id=x"]);

    ws.send("hello");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send(new Blob([new Uint8Array(1000)]));
    expect(ws.bufferedAmount).toBe(5 + 3 + 1000);
    await events.until("message:hello");
    await events.until("message:blob 3");
    await events.until("message:blob 1000");
    ws.binaryType = "arraybuffer";
    ws.binaryType = "nonsense" as BinaryType;
    expect(ws.binaryType).toBe("arraybuffer");
    ws.send(new ArrayBuffer(7));
    await events.until("message:arraybuffer 7");
    expect(ws.bufferedAmount).toBe(0);
    expect(attribute).toBe(4);

    expect(() => ws.close(1001)).toThrow(/1000 or 3000-4999/);
    expect(() => ws.close(1000, "x".repeat(124))).toThrow(/123 bytes/);
    ws.close(4000, "done");
    expect(ws.readyState).toBe(WebSocketClass.CLOSING);
    ws.send("after close");
    expect(ws.bufferedAmount).toBe(11);
    await events.until("close:4000 done true");
    expect(events.log).toEqual([
      "open",
      "message:hello",
      "message:blob 3",
      "message:blob 1000",
      "message:arraybuffer 7",
      "close:4000 done true",
    ]);
    expect(ws.readyState).toBe(WebSocketClass.CLOSED);
  });

  it("a close by the server, a fragmented message, and a failed handshake (error, then close 1006)", async () => {
    const { WebSocketClass, errors } = shimClass();
    const ws = new WebSocketClass("ws://app.localhost:4480/x");
    const events = record(ws);
    await events.until("open");
    ws.send("fragments");
    await events.until("message:fragmented wörld");
    ws.send("close 1001");
    await events.until("close:1001 server says bye true");

    const refused = new WebSocketClass("/forbidden");
    const failed = record(refused);
    await failed.until("close:1006  false");
    expect(failed.log).toEqual(["error", "close:1006  false"]);
    expect(errors.at(-1)).toMatch(/the server answered 403 Forbidden$/);
  });

  it("refuses what cannot work with the standard's errors: wss://, bad URLs, repeated subprotocols", async () => {
    const { WebSocketClass, errors, paths } = shimClass();
    expect(() => new WebSocketClass("ftp://app.localhost:4480/")).toThrow(/scheme/);
    expect(() => new WebSocketClass("/x#frag")).toThrow(/fragment/);
    expect(() => new WebSocketClass("/x", ["a", "a"])).toThrow(/subprotocols/);
    const secure = new WebSocketClass("wss://app.localhost:4480/x");
    const events = record(secure);
    await events.until("close:1006  false");
    expect(events.log).toEqual(["error", "close:1006  false"]);
    expect(errors.at(-1)).toMatch(/wss:\/\/ cannot work through the Wiregate tunnel/);
    expect(paths).toEqual([]);
  });
});
