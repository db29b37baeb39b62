/**
 * A small HTTP/1.1 client (RFC 9112) over a netstack TCP connection: one request per connection
 * ("Connection: close"), bodies with Content-Length, chunked or read until close.
 */
import { type Netstack, NetstackError, type TcpConnection } from "../netstack.js";
import { ByteReader } from "./reader.js";

export interface HttpRequest {
  host: string;
  port?: number;
  method?: string;
  /** Path and query, starting with "/". */
  path: string;
  headers?: Record<string, string>;
  /** Sent with Content-Length. */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  bodyLength?: number;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Every header line in order, names lower case (Set-Cookie cannot be joined). */
  headerList: [string, string][];
  body: ReadableStream<Uint8Array>;
}

const MAX_HEAD = 64 * 1024;

export async function httpRequest(net: Netstack, request: HttpRequest): Promise<HttpResponse> {
  const conn = await net.connect({ host: request.host, port: request.port ?? 80 });
  try {
    return await exchange(conn, request);
  } catch (e) {
    await conn.writable.abort().catch(() => {});
    throw e;
  }
}

async function exchange(conn: TcpConnection, request: HttpRequest): Promise<HttpResponse> {
  const host = request.host.includes(":") ? `[${request.host}]` : request.host;
  const port = request.port ?? 80;
  const headers: Record<string, string> = {
    host: port === 80 ? host : `${host}:${port}`,
    connection: "close",
    ...lower(request.headers ?? {}),
  };
  const body = request.body;
  if (body instanceof Uint8Array) headers["content-length"] = String(body.length);
  else if (body) headers["content-length"] = String(request.bodyLength ?? 0);
  const method = request.method ?? "GET";
  if (!/^[A-Z]+$/.test(method)) throw new TypeError(`method: '${method}' is not a token`);
  if (!request.path.startsWith("/") || /[\s]/.test(request.path)) {
    throw new TypeError(`path: '${request.path}' must start with / and contain no spaces`);
  }
  let head = `${method} ${request.path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name + value)) throw new TypeError(`header ${name}: line breaks`);
    head += `${name}: ${value}\r\n`;
  }
  const writer = conn.writable.getWriter();
  const sending = (async () => {
    try {
      const headBytes = new TextEncoder().encode(`${head}\r\n`);
      // Head and a known body leave together, as browsers send them: a server that answers before
      // reading the body then has it all, instead of resetting when the rest arrives after its close.
      if (body instanceof Uint8Array) {
        const whole = new Uint8Array(headBytes.length + body.length);
        whole.set(headBytes);
        whole.set(body, headBytes.length);
        await writer.write(whole);
      } else await writer.write(headBytes);
      if (body instanceof ReadableStream) {
        const reader = body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          await writer.write(value);
        }
      }
    } catch (e) {
      // A body that failed on our side would leave the server waiting for the rest: end the
      // connection. A network error is the server's doing (it may answer before taking the
      // whole body, then reset): its answer, if it came, still counts.
      if (!(e instanceof NetstackError)) await writer.abort(e).catch(() => {});
    } finally {
      writer.releaseLock();
    }
  })();
  const reader = new ByteReader(conn.readable.getReader());
  const headText = await reader.readUntil("\r\n\r\n", MAX_HEAD);
  await sending;
  const lines = headText.split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? "");
  if (!status) throw new Error(`not an HTTP/1.x response: '${(lines[0] ?? "").slice(0, 80)}'`);
  const responseHeaders: Record<string, string> = {};
  const headerList: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`malformed response header: '${line.slice(0, 80)}'`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    responseHeaders[name] = name in responseHeaders ? `${responseHeaders[name]}, ${value}` : value;
    headerList.push([name, value]);
  }
  const code = Number(status[1]);
  // The response is complete: our side closes too (we asked for "Connection: close").
  const done = () => void conn.writable.close().catch(() => {});
  const noBody = method === "HEAD" || code === 204 || code === 304 || (code >= 100 && code < 200);
  return {
    status: code,
    statusText: status[2] ?? "",
    headers: responseHeaders,
    headerList,
    body: noBody ? reader.empty(done) : reader.body(responseHeaders, done),
  };
}

function lower(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
