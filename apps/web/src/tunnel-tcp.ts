/**
 * TCP inside the tunnel, in the tunnel worker: a netstack on the worker's device answers the
 * Service Worker's HTTP requests (Browse screen) and carries the TCP console. Each request or
 * console connection talks to the page over its own MessagePort.
 */
import { httpRequest, Netstack, NetstackError } from "@wiregate/netstack";
import {
  type PortLike,
  runWebSocket,
  type WebSocketRequest,
} from "./browse/websocket-connection.js";
import type { HttpPortMessage, TcpPortMessage, TunnelHttpRequest } from "./protocol.js";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "te"]);
/** Request headers the client sets itself (framing, the target), never the page's. */
const OWN_REQUEST_HEADERS = new Set([...HOP_BY_HOP, "host", "content-length", "accept-encoding"]);

export class TunnelTcp {
  readonly net: Netstack;

  constructor(addresses: string[], mtu: number, send: (packet: Uint8Array) => void) {
    this.net = new Netstack({ addresses, mtu: Math.max(1280, mtu), send });
  }

  receive(packet: Uint8Array): void {
    this.net.receive(packet);
  }

  /** One HTTP/1.1 request through the tunnel; the answer streams back over `port`. */
  async http(request: TunnelHttpRequest, port: MessagePort): Promise<void> {
    const post = (m: HttpPortMessage, transfer: Transferable[] = []) =>
      port.postMessage(m, transfer);
    let cancelled = false;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    // The page stopped reading (a closed event stream, a frame navigated away): so do we.
    port.onmessage = (event: MessageEvent<{ type?: string }>) => {
      if (event.data?.type !== "cancel") return;
      cancelled = true;
      void reader?.cancel().catch(() => {});
    };
    try {
      const sent = Object.fromEntries(
        Object.entries(request.headers).filter(
          ([name]) => !OWN_REQUEST_HEADERS.has(name.toLowerCase()),
        ),
      );
      const response = await httpRequest(this.net, {
        host: request.host,
        port: request.port,
        method: request.method,
        path: request.path,
        headers: sent,
        ...(request.body ? { body: request.body } : {}),
      });
      const headers: [string, string][] = Object.entries(response.headers).filter(
        ([name]) => !HOP_BY_HOP.has(name),
      );
      post({ type: "head", status: response.status, statusText: response.statusText, headers });
      reader = response.body.getReader();
      if (cancelled) await reader.cancel();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        post({ type: "chunk", data: value }, [value.buffer as ArrayBuffer]);
      }
      post({ type: "end" });
    } catch (e) {
      post({ type: "error", message: describe(e) });
    } finally {
      port.close();
    }
  }

  /** A shown app's WebSocket: its own TCP connection to the target, frames over `port`. */
  async websocket(request: WebSocketRequest, port: MessagePort): Promise<void> {
    try {
      const conn = await this.net.connect({
        host: request.host,
        port: request.port,
        noDelay: true,
      });
      await runWebSocket(conn, request, port as unknown as PortLike, {
        random: (n) => crypto.getRandomValues(new Uint8Array(n)),
      });
    } catch (e) {
      port.postMessage({ type: "error", message: describe(e) });
      port.postMessage({ type: "closed", code: 1006, reason: "", wasClean: false });
      port.close();
    }
  }

  /** A TCP console connection: lines in from the page, bytes out as they arrive. */
  async console(host: string, tcpPort: number, port: MessagePort): Promise<void> {
    const post = (m: TcpPortMessage) => port.postMessage(m);
    try {
      const conn = await this.net.connect({ host, port: tcpPort, noDelay: true });
      post({ type: "open", local: `${conn.socket.local}:${conn.socket.localPort}` });
      const writer = conn.writable.getWriter();
      port.onmessage = (event: MessageEvent<TcpPortMessage>) => {
        const m = event.data;
        if (m.type === "send") void writer.write(m.data).catch(() => {});
        else if (m.type === "close") void writer.close().catch(() => {});
      };
      const reader = conn.readable.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        post({ type: "data", data: value });
      }
      post({ type: "end" });
      await conn.closed;
      post({ type: "closed" });
    } catch (e) {
      post({ type: "error", message: describe(e) });
    }
  }
}

function describe(e: unknown): string {
  if (e instanceof NetstackError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
