/**
 * A small HTTP/1.1 server (RFC 9112) on a netstack listening port: one request per connection,
 * request bodies with Content-Length only, bounded heads, errors answered with a status code.
 */
import { type Clock, realClock, type TcpConnection, type TcpServer } from "../netstack.js";
import { ByteReader } from "./reader.js";

export interface ServerRequest {
  method: string;
  /** Path and query as sent. */
  target: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array>;
  /** The client's address and port inside the tunnel. */
  remote: string;
  remotePort: number;
}

export interface ServerResponse {
  status: number;
  headers?: Record<string, string>;
  /** With a stream, give `content-length` in `headers` (else the end of the connection ends it). */
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
}

export type Handler = (request: ServerRequest) => Promise<ServerResponse> | ServerResponse;

const MAX_HEAD = 16 * 1024;
const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  411: "Length Required",
  413: "Content Too Large",
  500: "Internal Server Error",
};

export interface ServeOptions {
  /** A client that has not sent its whole request head by then is dropped (slowloris). */
  headTimeout?: number;
  clock?: Clock;
}

/** Answers every connection `server` accepts with `handler`, until the server is closed. */
export async function serveHttp(
  server: TcpServer,
  handler: Handler,
  options: ServeOptions = {},
): Promise<void> {
  const connections = server.connections.getReader();
  for (;;) {
    const { value: conn, done } = await connections.read();
    if (done) return;
    void handle(conn, handler, options).catch(() => conn.writable.abort().catch(() => {}));
  }
}

async function handle(conn: TcpConnection, handler: Handler, options: ServeOptions): Promise<void> {
  const clock = options.clock ?? realClock;
  const timer = clock.setTimeout(
    () => void conn.writable.abort().catch(() => {}),
    options.headTimeout ?? 10_000,
  );
  const reader = new ByteReader(conn.readable.getReader());
  let response: ServerResponse;
  try {
    const request = await readRequest(reader, conn);
    clock.clearTimeout(timer);
    response = await handler(request);
  } catch (e) {
    clock.clearTimeout(timer);
    if (conn.socket.state === "closed") return;
    const status = e instanceof HttpError ? e.status : 500;
    response = { status, body: `${status} ${REASONS[status] ?? ""}: ${(e as Error).message}\n` };
  }
  await writeResponse(conn, response);
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function readRequest(reader: ByteReader, conn: TcpConnection): Promise<ServerRequest> {
  let head: string;
  try {
    head = await reader.readUntil("\r\n\r\n", MAX_HEAD);
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
  const [line = "", ...rest] = head.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!m) throw new HttpError(400, `bad request line '${line.slice(0, 80)}'`);
  const headers: Record<string, string> = {};
  for (const h of rest) {
    const colon = h.indexOf(":");
    if (colon <= 0) throw new HttpError(400, `bad header line '${h.slice(0, 80)}'`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  if (headers["transfer-encoding"]) throw new HttpError(411, "send a Content-Length, not chunks");
  return {
    method: m[1]!,
    target: m[2]!,
    headers,
    body: reader.body({ "content-length": headers["content-length"] ?? "0" }),
    remote: conn.socket.remote,
    remotePort: conn.socket.remotePort,
  };
}

async function writeResponse(conn: TcpConnection, response: ServerResponse): Promise<void> {
  const headers: Record<string, string> = { connection: "close", ...response.headers };
  let body = response.body;
  if (typeof body === "string") body = new TextEncoder().encode(body);
  if (body instanceof Uint8Array) headers["content-length"] = String(body.length);
  else if (!body) headers["content-length"] = "0";
  let head = `HTTP/1.1 ${response.status} ${REASONS[response.status] ?? "Status"}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode(`${head}\r\n`));
  if (body instanceof Uint8Array) await writer.write(body);
  else if (body) {
    const r = body.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) break;
      await writer.write(value);
    }
  }
  await writer.close();
}
