// The tunnel worker's WebSocket (src/browse/websocket-connection.ts) against a real, independent
// server: the `ws` package (the WebSocket server of Node.js's ecosystem), over a real TCP
// connection on loopback. The handshake with the app's subprotocols, Origin and cookies; text and
// binary both ways, fragmented messages, ping/pong, close codes both ways; refusals with clear
// errors; and the bound on what a server can make the worker hold.
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import {
  runWebSocket,
  type WebSocketPortMessage,
  type WebSocketRequest,
} from "../src/browse/websocket-connection.js";

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
