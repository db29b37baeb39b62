/**
 * TCP inside the tunnel, in the tunnel worker: a netstack on the worker's device carries Browse's
 * HTTP (browse/exchange.ts), shown apps' WebSockets and the TCP console. Each connection talks to
 * the page over its own MessagePort. Host names are resolved here,
 * by the tunnel's resolver (dns/), so every TCP user gets names through one place.
 */
import { Netstack, NetstackError, realClock, type TcpConnection } from "@wiregate/netstack";
import { HttpPool } from "./browse/http-pool.js";
import {
  type PortLike,
  runWebSocket,
  type WebSocketRequest,
} from "./browse/websocket-connection.js";
import { netstackTransport } from "./dns/netstack-transport.js";
import { DnsError, type Resolution, Resolver } from "./dns/resolver.js";
import type { DnsSettings, ResolvePortMessage, TcpPortMessage } from "./protocol.js";

export class TunnelTcp {
  readonly net: Netstack;
  readonly resolver: Resolver;
  /** Browse's keep-alive connections, per target (browse/http-pool.ts). */
  readonly http: HttpPool;
  readonly #addresses: string[];
  /** The resolver's UDP ports now open: datagrams to them go to the netstack. */
  readonly #dnsPorts = new Set<number>();

  constructor(
    addresses: string[],
    mtu: number,
    send: (packet: Uint8Array) => void,
    dns: DnsSettings,
    random: (n: number) => Uint8Array,
    /** Whether the device has a WireGuard session with the peer (the resolver waits for one). */
    sessionUp: () => boolean = () => true,
  ) {
    this.#addresses = addresses;
    this.net = new Netstack({ addresses, mtu: Math.max(1280, mtu), send, random });
    this.http = new HttpPool((host, port) => this.net.connect({ host, port }), realClock);
    const transport = netstackTransport(this.net);
    this.resolver = new Resolver({
      servers: dns.servers,
      search: dns.search,
      clock: realClock,
      random,
      sessionUp,
      transport: {
        bind: (port, receive) => {
          const socket = transport.bind(port, receive);
          this.#dnsPorts.add(port);
          return {
            send: socket.send,
            close: () => {
              this.#dnsPorts.delete(port);
              socket.close();
            },
          };
        },
      },
    });
  }

  /** The device is replaced: Browse's idle connections go with it. */
  close(): void {
    this.http.close();
  }

  /** Whether a datagram to this UDP port is the resolver's. */
  dnsPort(port: number): boolean {
    return this.#dnsPorts.has(port);
  }

  receive(packet: Uint8Array): void {
    this.net.receive(packet);
  }

  /** The Tools screen's Resolve box: the answer (addresses and TTLs) over `port`. */
  async resolve(name: string, port: MessagePort): Promise<void> {
    const post = (m: ResolvePortMessage) => port.postMessage(m);
    try {
      post({
        type: "resolved",
        resolution: await this.resolver.resolve(name),
        stats: this.resolver.stats,
      });
    } catch (e) {
      post({ type: "error", message: describe(e), stats: this.resolver.stats });
    } finally {
      port.close();
    }
  }

  /** The address to reach `host` at: itself if an address, else the first usable one of its name. */
  async addressOf(host: string): Promise<string> {
    return pickAddress(await this.resolver.resolve(host), this.#addresses);
  }

  /**
   * A TCP connection to `host` (a name is resolved first: the first address of a family the
   * tunnel has an address of, IPv4 before IPv6).
   */
  async connect(
    host: string,
    port: number,
    options: { noDelay?: boolean } = {},
  ): Promise<{ conn: TcpConnection; address: string }> {
    const address = await this.addressOf(host);
    const conn = await this.net.connect({ host: address, port, ...options });
    return { conn, address };
  }

  /** A shown app's WebSocket: its own TCP connection to the target, frames over `port`. */
  async websocket(request: WebSocketRequest, port: MessagePort): Promise<void> {
    try {
      // A name is resolved; the handshake's Host header keeps it.
      const { conn } = await this.connect(request.host, request.port, { noDelay: true });
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
      const { conn, address } = await this.connect(host, tcpPort, { noDelay: true });
      post({
        type: "open",
        local: `${conn.socket.local}:${conn.socket.localPort}`,
        remote: address.includes(":") ? `[${address}]:${tcpPort}` : `${address}:${tcpPort}`,
      });
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

/** The address to connect to: one of a family the tunnel has a source address for. */
function pickAddress(resolution: Resolution, own: string[]): string {
  const usable = resolution.addresses.find((a) =>
    own.some((o) => o.includes(":") === (a.type === "AAAA")),
  );
  if (!usable) {
    throw new DnsError(
      "nodata",
      `${resolution.query} is at ${resolution.addresses.map((a) => a.address).join(", ")}, but the tunnel has no address of that family`,
    );
  }
  return usable.address;
}

function describe(e: unknown): string {
  if (e instanceof NetstackError || e instanceof DnsError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
