/**
 * One WebSocket of a shown app, in the tunnel worker: the RFC 6455 opening handshake and then
 * frames over a TCP connection inside the tunnel, with the app's side (websocket-shim, in the
 * app's own origin) on a MessagePort. It lives here, next to netstack, and not in the Browse
 * origin's Service Worker: a browser stops an idle Service Worker after seconds, and with it
 * anything it held, while a WebSocket lives as long as the app keeps it.
 *
 * Bounded: the handshake's answer is at most 16 KiB, a frame and a message from the server at
 * most `limits` (16 MiB each by default; over it the connection is failed with 1009, as a browser
 * does). No extension is offered (no permessage-deflate), so frames are never compressed.
 */
import {
  closePayload,
  DEFAULT_LIMITS,
  encodeFrame,
  FrameDecoder,
  type Limits,
  OPCODE,
  WebSocketProtocolError,
} from "./websocket-frame.js";

/** What the app asked for, with the target fixed by the page (never by the app). */
export interface WebSocketRequest {
  host: string;
  port: number;
  /** Path and query, starting with "/". */
  path: string;
  /** The Origin header: the target's own origin, as the app's server expects it. */
  origin: string;
  protocols: string[];
  /** Other request headers (Cookie, User-Agent, Accept-Language); the handshake's own are ours. */
  headers: Record<string, string>;
}

/** The app's side and the worker's, on the WebSocket's MessagePort. */
export type WebSocketPortMessage =
  // worker → app
  | { type: "open"; protocol: string; extensions: string; headers: [string, string][] }
  | { type: "message"; data: string | ArrayBuffer }
  /** Bytes of application data written to TCP (the app's bufferedAmount goes down by them). */
  | { type: "sent"; bytes: number }
  | { type: "error"; message: string }
  | { type: "closed"; code: number; reason: string; wasClean: boolean }
  // app → worker
  | { type: "send"; data: string | ArrayBuffer }
  | { type: "close"; code?: number; reason?: string };

export interface ByteStream {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

export interface PortLike {
  postMessage(message: WebSocketPortMessage, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<WebSocketPortMessage>) => void) | null;
  close(): void;
}

export interface WebSocketOptions {
  random: (n: number) => Uint8Array;
  limits?: Partial<Limits>;
  /** How long to wait for the server's close after ours before dropping TCP (ms). */
  closeTimeoutMs?: number;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEAD = 16 * 1024;
/** Request headers the handshake sets itself, or that the app may not set. */
const OURS = new Set([
  "host",
  "upgrade",
  "connection",
  "origin",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);

export class HandshakeError extends Error {
  override name = "HandshakeError";
}

/** The opening handshake's request (RFC 6455 §4.1). */
export function handshakeRequest(request: WebSocketRequest, key: string): string {
  if (!request.path.startsWith("/") || /[\s]/.test(request.path)) {
    throw new HandshakeError(`path '${request.path}' must start with / and have no spaces`);
  }
  const host = request.host.includes(":") ? `[${request.host}]` : request.host;
  const lines = [
    `GET ${request.path} HTTP/1.1`,
    `Host: ${request.port === 80 ? host : `${host}:${request.port}`}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    `Origin: ${request.origin}`,
  ];
  if (request.protocols.length > 0) {
    lines.push(`Sec-WebSocket-Protocol: ${request.protocols.join(", ")}`);
  }
  for (const [name, value] of Object.entries(request.headers)) {
    if (OURS.has(name.toLowerCase())) continue;
    if (/[\r\n]/.test(name + value) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new HandshakeError(`header '${name}' is not a valid header`);
    }
    lines.push(`${name}: ${value}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)). */
export async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return base64(new Uint8Array(digest));
}

/** Checks the server's answer (§4.2.2 from the client's side); returns the chosen protocol. */
export async function checkHandshake(
  head: string,
  key: string,
  protocols: string[],
): Promise<{ protocol: string; headers: [string, string][] }> {
  const lines = head.split("\r\n");
  const status = /^HTTP\/1\.1 (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
  if (!status) throw new HandshakeError(`not an HTTP/1.1 answer: '${lines[0]?.slice(0, 80)}'`);
  if (status[1] !== "101") {
    throw new HandshakeError(`the server answered ${status[1]} ${status[2] ?? ""}`.trim());
  }
  const headers: [string, string][] = [];
  const get = (name: string) =>
    headers
      .filter(([n]) => n === name)
      .map(([, v]) => v)
      .join(", ");
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HandshakeError(`malformed header line '${line.slice(0, 80)}'`);
    headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  if (get("upgrade").toLowerCase() !== "websocket") {
    throw new HandshakeError(`Upgrade is '${get("upgrade")}', not websocket`);
  }
  if (
    !get("connection")
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes("upgrade")
  ) {
    throw new HandshakeError(`Connection is '${get("connection")}', not Upgrade`);
  }
  if (get("sec-websocket-accept") !== (await acceptFor(key))) {
    throw new HandshakeError("Sec-WebSocket-Accept does not match the key");
  }
  if (get("sec-websocket-extensions")) {
    throw new HandshakeError(
      `the server chose extensions '${get("sec-websocket-extensions")}', none were offered`,
    );
  }
  const protocol = get("sec-websocket-protocol");
  if (protocol && !protocols.includes(protocol)) {
    throw new HandshakeError(`the server chose the subprotocol '${protocol}', not one offered`);
  }
  if (!protocol && protocols.length > 0) {
    throw new HandshakeError("the server chose none of the subprotocols offered");
  }
  return { protocol, headers };
}

/** Runs one WebSocket on `tcp` for the app on `port`, until it is closed either way. */
export async function runWebSocket(
  tcp: ByteStream,
  request: WebSocketRequest,
  port: PortLike,
  options: WebSocketOptions,
): Promise<void> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const writer = tcp.writable.getWriter();
  const reader = tcp.readable.getReader();
  const post = (m: WebSocketPortMessage, transfer: Transferable[] = []) =>
    port.postMessage(m, transfer);
  let closed = false;
  const finish = (code: number, reason: string, wasClean: boolean) => {
    if (closed) return;
    closed = true;
    post({ type: "closed", code, reason, wasClean });
    port.onmessage = null;
    port.close();
    void writer.close().catch(() => {});
    void reader.cancel().catch(() => {});
  };
  const fail = (message: string) => {
    if (closed) return;
    post({ type: "error", message });
    finish(1006, "", false);
  };

  // Writes in order; a write that fails fails the connection.
  let writing: Promise<void> = Promise.resolve();
  const write = (bytes: Uint8Array, then?: () => void) => {
    writing = writing
      .then(() => writer.write(bytes))
      .then(then, (e: unknown) => fail(`the TCP connection failed: ${describe(e)}`));
    return writing;
  };
  const mask = () => options.random(4);

  // The opening handshake.
  const key = base64(options.random(16));
  let leftover: Uint8Array;
  try {
    await write(new TextEncoder().encode(handshakeRequest(request, key)));
    const { head, rest } = await readHead(reader);
    const answer = await checkHandshake(head, key, request.protocols);
    post({ type: "open", protocol: answer.protocol, extensions: "", headers: answer.headers });
    leftover = rest;
  } catch (e) {
    fail(
      e instanceof HandshakeError
        ? `the WebSocket handshake with ${request.host}:${request.port} failed: ${e.message}`
        : describe(e),
    );
    return;
  }

  let closeSent = false;
  let received: { code: number; reason: string } | undefined;
  let closeTimer: ReturnType<typeof setTimeout> | undefined;
  const sendClose = (code?: number, reason?: string) => {
    if (closeSent) return;
    closeSent = true;
    write(encodeFrame(OPCODE.close, closePayload(code, reason), mask()));
    // A server that does not close TCP after the closing handshake has it closed for it.
    closeTimer = setTimeout(
      () => finish(received?.code ?? 1006, received?.reason ?? "", received !== undefined),
      options.closeTimeoutMs ?? 30_000,
    );
  };

  port.onmessage = ({ data }) => {
    if (closed) return;
    if (data.type === "send") {
      if (closeSent) return;
      const payload =
        typeof data.data === "string"
          ? new TextEncoder().encode(data.data)
          : new Uint8Array(data.data);
      const opcode = typeof data.data === "string" ? OPCODE.text : OPCODE.binary;
      write(encodeFrame(opcode, payload, mask()), () =>
        post({ type: "sent", bytes: payload.length }),
      );
    } else if (data.type === "close") {
      sendClose(data.code, data.reason);
    }
  };

  const decoder = new FrameDecoder(limits);
  try {
    let chunk: Uint8Array | undefined = leftover.length > 0 ? leftover : undefined;
    for (;;) {
      if (chunk) {
        for (const event of decoder.push(chunk)) {
          if (received) break;
          if (event.type === "text") post({ type: "message", data: event.data });
          else if (event.type === "binary") {
            const data = event.data.buffer.slice(
              event.data.byteOffset,
              event.data.byteOffset + event.data.byteLength,
            ) as ArrayBuffer;
            post({ type: "message", data }, [data]);
          } else if (event.type === "ping") {
            if (!closeSent) write(encodeFrame(OPCODE.pong, event.data, mask()));
          } else if (event.type === "close") {
            received = { code: event.code ?? 1005, reason: event.reason };
            // Echo the code (§5.5.1); the server closes TCP first (§7.1.1).
            sendClose(event.code, event.code === undefined ? undefined : "");
          }
        }
      }
      const { value, done } = await reader.read();
      if (done) break;
      chunk = value;
    }
  } catch (e) {
    if (e instanceof WebSocketProtocolError) {
      sendClose(e.code);
      await writing;
      fail(`the server broke the WebSocket protocol: ${e.message}`);
    } else fail(`the TCP connection failed: ${describe(e)}`);
    clearTimeout(closeTimer);
    return;
  }
  clearTimeout(closeTimer);
  if (received) finish(received.code, received.reason, true);
  else fail("the server closed the TCP connection without a close frame");
}

/** The head up to the blank line, and the bytes after it (the first frames, if any). */
async function readHead(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<{ head: string; rest: Uint8Array }> {
  let buffer = new Uint8Array(0);
  for (;;) {
    const end = indexOfBlankLine(buffer);
    if (end >= 0) {
      return {
        head: new TextDecoder().decode(buffer.subarray(0, end)),
        rest: buffer.slice(end + 4),
      };
    }
    if (buffer.length > MAX_HEAD) {
      throw new HandshakeError(`no end of the answer's head within ${MAX_HEAD} bytes`);
    }
    const { value, done } = await reader.read();
    if (done) throw new HandshakeError("the server closed the connection during the handshake");
    const merged = new Uint8Array(buffer.length + value.length);
    merged.set(buffer);
    merged.set(value, buffer.length);
    buffer = merged;
  }
}

function indexOfBlankLine(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
