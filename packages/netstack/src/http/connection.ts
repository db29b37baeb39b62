/**
 * One HTTP/1.1 client connection (RFC 9112) over a netstack TCP connection, carrying requests one
 * after another (persistent connections, §9.3; no pipelining): the request head and a known-length
 * body in one write, a stream of unknown length with chunked transfer coding; the answer framed by
 * Content-Length, chunked coding, no body (HEAD, 1xx, 204, 304) or the end of the connection.
 * Interim 1xx answers (100 Continue, 103 Early Hints) are skipped. Each answer says, once its body
 * is read, whether the connection can carry the next request (`done`). No clock and no timers: a
 * pool above it decides how long an idle connection is kept.
 */
import { NetstackError, type TcpConnection } from "../netstack.js";
import { ByteReader } from "./reader.js";

export interface HttpRequest {
  host: string;
  port?: number;
  method?: string;
  /** Path and query, starting with "/". */
  path: string;
  headers?: Record<string, string>;
  /**
   * Bytes (sent with Content-Length), or a stream: with Content-Length when `bodyLength` is
   * given (exactly that many bytes), chunked otherwise.
   */
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

/** An answer, and whether its connection can carry another request once its body is read. */
export interface HttpExchange extends HttpResponse {
  /**
   * Resolves once the body was read to its end (true: the connection is idle and reusable) or
   * the exchange failed or was cancelled (false: the connection is being closed).
   */
  done: Promise<boolean>;
}

/**
 * The connection ended (FIN or RST) before a single byte of the answer arrived. On a connection
 * that carried an earlier request this is the race RFC 9112 §9.3.1 describes (the server closed
 * it while it was idle): an idempotent request may be sent again on a new connection.
 */
export class HttpNoResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HttpNoResponseError";
  }
}

const MAX_HEAD = 64 * 1024;
/** Interim answers skipped before the final one, at most (a server sending 1xx forever). */
const MAX_INTERIM = 16;
/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Whether a request may be sent again after a connection closed under it (idempotent, body kept). */
export function replayable(request: HttpRequest): boolean {
  return IDEMPOTENT.has(request.method ?? "GET") && !(request.body instanceof ReadableStream);
}

type State = "idle" | "busy" | "closed";

export class HttpConnection {
  readonly tcp: TcpConnection;
  readonly #reader: ByteReader;
  #state: State = "idle";
  #requests = 0;

  constructor(tcp: TcpConnection) {
    this.tcp = tcp;
    this.#reader = new ByteReader(tcp.readable.getReader());
  }

  /** How many requests it was given. */
  get requests(): number {
    return this.#requests;
  }

  /**
   * Whether it can take a request now: idle, and as far as this side knows the server has not
   * closed or written to it since the last answer (a FIN or stray bytes make it unusable).
   */
  get usable(): boolean {
    const socket = this.tcp.socket;
    return (
      this.#state === "idle" &&
      socket.state === "established" &&
      socket.readableLength === 0 &&
      this.#reader.buffered === 0
    );
  }

  /** Closes it: with a FIN, or a reset (`abort`, for an exchange cut short). */
  close(abort = false): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    // Cancelling the readable resets: only when the exchange is cut short.
    if (abort) {
      void this.tcp.writable.abort().catch(() => {});
      this.#reader.cancel();
    } else void this.tcp.writable.close().catch(() => {});
  }

  /**
   * Sends `request` and resolves with the answer's head once it arrives; the body streams.
   * With `keepAlive: false` the request says "Connection: close" and the connection closes after
   * the answer.
   */
  async request(
    request: HttpRequest,
    options: { keepAlive?: boolean } = {},
  ): Promise<HttpExchange> {
    if (this.#state !== "idle") throw new Error(`the connection is ${this.#state}, not idle`);
    const keepAlive = options.keepAlive ?? true;
    const method = request.method ?? "GET";
    const head = requestHead(request, method, keepAlive);
    this.#state = "busy";
    this.#requests++;
    let settle!: (reusable: boolean) => void;
    const done = new Promise<boolean>((resolve) => {
      settle = resolve;
    });
    let finished = false;
    /** The exchange is over: the connection is reused, closed (a FIN) or reset (cut short). */
    const finish = (outcome: "reuse" | "close" | "abort") => {
      if (finished) return;
      finished = true;
      if (outcome === "reuse" && this.#state === "busy") this.#state = "idle";
      else this.close(outcome === "abort");
      settle(this.#state === "idle");
    };
    let sent = false;
    const sending = this.#send(head, request).then(
      () => {
        sent = true;
      },
      (e: unknown) => {
        // A network error is the server's doing (it may answer before taking the whole body,
        // then reset): its answer, if it came, still counts, and the connection is not reused.
        if (e instanceof NetstackError) return;
        // A body that failed on our side would leave the server waiting for the rest: the
        // connection ends, and the request fails with the body's error.
        finish("abort");
        throw e;
      },
    );
    sending.catch(() => {});
    const sendFailed = sending.then(() => new Promise<never>(() => {}));
    try {
      const before = this.#reader.bytesRead;
      let answer: Head;
      for (let interim = 0; ; interim++) {
        answer = parseHead(await Promise.race([this.#readHead(before), sendFailed]));
        if (answer.status < 100 || answer.status >= 200 || answer.status === 101) break;
        if (interim >= MAX_INTERIM) throw new Error(`more than ${MAX_INTERIM} interim answers`);
      }
      const { status, statusText, version, headers, headerList } = answer;
      const chunked = /(^|,)\s*chunked\s*$/i.test(headers["transfer-encoding"] ?? "");
      const length = headers["content-length"] !== undefined;
      const noBody = method === "HEAD" || status === 204 || status === 304 || status === 101;
      // Reused only if its end is known from the framing: not an answer read until the close,
      // not one with both a length and chunked coding (RFC 9112 §6.3: close after it).
      const persistent =
        keepAlive &&
        status !== 101 &&
        version === "1.1" &&
        !/(^|,)\s*close\s*(,|$)/i.test(headers.connection ?? "") &&
        (noBody || chunked !== length);
      const complete = () =>
        finish(persistent && sent && this.#reader.buffered === 0 ? "reuse" : "close");
      const body = noBody
        ? this.#reader.empty(complete)
        : this.#reader.body(headers, complete, () => finish("abort"));
      return { status, statusText, headers, headerList, body, done };
    } catch (e) {
      finish("abort");
      throw e;
    }
  }

  /** The next head; an end before any byte of it is HttpNoResponseError. */
  async #readHead(before: number): Promise<string> {
    try {
      return await this.#reader.readUntil("\r\n\r\n", MAX_HEAD);
    } catch (e) {
      if (this.#reader.bytesRead === before) {
        const why = e instanceof Error ? e.message : String(e);
        throw new HttpNoResponseError(`no answer: ${why}`);
      }
      throw e;
    }
  }

  async #send(head: string, request: HttpRequest): Promise<void> {
    const writer = this.tcp.writable.getWriter();
    try {
      const headBytes = new TextEncoder().encode(head);
      const body = request.body;
      if (body instanceof Uint8Array) {
        // Head and body in one write: a small request leaves in one segment.
        const all = new Uint8Array(headBytes.length + body.length);
        all.set(headBytes);
        all.set(body, headBytes.length);
        await writer.write(all);
      } else {
        await writer.write(headBytes);
        if (body) await sendStream(writer, body, request.bodyLength);
      }
    } finally {
      writer.releaseLock();
    }
  }
}

/** Writes a stream body: exactly `length` bytes, or chunked when the length is unknown. */
async function sendStream(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  body: ReadableStream<Uint8Array>,
  length: number | undefined,
): Promise<void> {
  const reader = body.getReader();
  const encoder = new TextEncoder();
  let sent = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (value.length === 0) continue;
    sent += value.length;
    if (length !== undefined) {
      if (sent > length) throw new Error(`request body longer than its ${length} bytes`);
      await writer.write(value);
    } else {
      const size = encoder.encode(`${value.length.toString(16)}\r\n`);
      const chunk = new Uint8Array(size.length + value.length + 2);
      chunk.set(size);
      chunk.set(value, size.length);
      chunk.set([13, 10], size.length + value.length);
      await writer.write(chunk);
    }
  }
  if (length === undefined) await writer.write(encoder.encode("0\r\n\r\n"));
  else if (sent !== length) throw new Error(`request body of ${sent} bytes, not ${length}`);
}

interface Head {
  version: string;
  status: number;
  statusText: string;
  headers: Record<string, string>;
  headerList: [string, string][];
}

function requestHead(request: HttpRequest, method: string, keepAlive: boolean): string {
  const host = request.host.includes(":") ? `[${request.host}]` : request.host;
  const port = request.port ?? 80;
  const headers: Record<string, string> = {
    host: port === 80 ? host : `${host}:${port}`,
    ...(keepAlive ? {} : { connection: "close" }),
    ...lower(request.headers ?? {}),
  };
  const body = request.body;
  if (body instanceof Uint8Array) headers["content-length"] = String(body.length);
  else if (body && request.bodyLength !== undefined)
    headers["content-length"] = String(request.bodyLength);
  else if (body) headers["transfer-encoding"] = "chunked";
  if (!/^[A-Z]+$/.test(method)) throw new TypeError(`method: '${method}' is not a token`);
  if (!request.path.startsWith("/") || /[\s]/.test(request.path)) {
    throw new TypeError(`path: '${request.path}' must start with / and contain no spaces`);
  }
  let head = `${method} ${request.path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name + value)) throw new TypeError(`header ${name}: line breaks`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const status = /^HTTP\/(1\.[01]) (\d{3}) ?(.*)$/.exec(lines[0] ?? "");
  if (!status) throw new Error(`not an HTTP/1.x response: '${(lines[0] ?? "").slice(0, 80)}'`);
  const headers: Record<string, string> = {};
  const headerList: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`malformed response header: '${line.slice(0, 80)}'`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    headerList.push([name, value]);
  }
  return {
    version: status[1]!,
    status: Number(status[2]),
    statusText: status[3] ?? "",
    headers,
    headerList,
  };
}

function lower(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
