/**
 * The network stack inside the tunnel, sans-IO: IP packets go in with `receive(now, packet)`,
 * application calls queue work, and `poll(now)` returns the packets to send, the socket events
 * and the next deadline. No clock, no randomness and no I/O of its own.
 */
import { formatIp, parseIp } from "@wiregate/core";
import { emptyStats, type Sink, type StackEvent, type StackStats } from "./events.js";
import { echoRequest, receiveIcmp } from "./icmp.js";
import {
  familyOf,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  parseIpPacket,
  transportChecksumValid,
} from "./ip.js";
import type { KeepAlive, TcpConfig } from "./tcp/config.js";
import type { TcpSocket } from "./tcp/socket.js";
import { type BufferBudget, TcpLayer } from "./tcp/tcp-layer.js";
import { UdpLayer } from "./udp.js";

export interface StackOptions {
  /** Our addresses inside the tunnel (one IPv4 and/or one IPv6, canonical text). */
  addresses: string[];
  /** The tunnel MTU; TCP announces MSS = MTU − 40 (IPv4) or − 60 (IPv6). Default 1420. */
  mtu?: number;
  /** Randomness for ISNs, ports and timestamps offsets (injected, like the core's). */
  random: (n: number) => Uint8Array;
  tcp?: Partial<TcpConfig>;
  maxConnections?: number;
  bufferBudget?: BufferBudget;
}

export interface StackOutput {
  packets: Uint8Array[];
  events: StackEvent[];
  /** When to call `poll` again at the latest (absolute, same clock as `now`). */
  deadline: number | undefined;
}

export interface ConnectRequest {
  host: string;
  port: number;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: KeepAlive;
}

export class Stack {
  readonly addresses: readonly string[];
  readonly mtu: number;
  readonly tcp: TcpLayer;
  readonly udp: UdpLayer;
  readonly #sink: Sink = { packets: [], events: [], stats: emptyStats() };

  constructor(options: StackOptions) {
    // Canonical text, so that packets (formatted the same way) match: "FD99::0001" is "fd99::1".
    this.addresses = options.addresses.map((a) => {
      const parsed = parseIp(a);
      if (!parsed.ok) throw new TypeError(`addresses: ${parsed.error}`);
      return formatIp(parsed.address);
    });
    this.mtu = options.mtu ?? 1420;
    if (this.mtu < 1280) throw new RangeError(`mtu: ${this.mtu} is below 1280`);
    this.tcp = new TcpLayer(
      {
        mtu: this.mtu,
        random: options.random,
        config: options.tcp,
        maxConnections: options.maxConnections,
        bufferBudget: options.bufferBudget,
      },
      this.#sink,
    );
    this.udp = new UdpLayer(options.random);
  }

  get stats(): StackStats {
    return this.#sink.stats;
  }

  /** A plaintext IP packet the tunnel delivered. Never throws; refusals are counted in `stats`. */
  receive(now: number, packet: Uint8Array): void {
    const s = this.#sink.stats;
    s.received++;
    const parsed = parseIpPacket(packet);
    if (!parsed.ok) {
      s.malformed++;
      return;
    }
    const d = parsed.datagram;
    if (!this.addresses.includes(d.destination)) {
      s.notForUs++;
      return;
    }
    const noUdpChecksum =
      d.protocol === PROTO_UDP &&
      d.family === 4 &&
      d.packet.length >= d.offset + 8 &&
      d.packet[d.offset + 6] === 0 &&
      d.packet[d.offset + 7] === 0;
    if (!noUdpChecksum && !transportChecksumValid(d)) {
      s.badChecksum++;
      return;
    }
    if (d.protocol === PROTO_TCP) this.tcp.receive(now, d);
    else if (d.protocol === PROTO_UDP) this.udp.receive(d, this.#sink);
    else if (
      (d.protocol === PROTO_ICMP && d.family === 4) ||
      (d.protocol === PROTO_ICMPV6 && d.family === 6)
    ) {
      const q = receiveIcmp(d, this.#sink);
      if (q) this.tcp.unreachable(q.local, q.localPort, q.remote, q.remotePort, q.seq);
    } else s.unsupportedProtocol++;
  }

  /** Runs timers and collects everything to send and report. Call after any input or API call. */
  poll(now: number): StackOutput {
    const deadline = this.tcp.poll(now);
    const out = { packets: this.#sink.packets, events: this.#sink.events, deadline };
    this.#sink.packets = [];
    this.#sink.events = [];
    this.#sink.stats.sent += out.packets.length;
    return out;
  }

  /** Opens a TCP connection (SYN goes out at the next poll). */
  connect(now: number, request: ConnectRequest): TcpSocket {
    return this.tcp.connect(now, {
      local: this.sourceFor(request.host),
      remote: request.host,
      port: request.port,
      ...(request.localPort !== undefined ? { localPort: request.localPort } : {}),
      ...(request.noDelay !== undefined ? { noDelay: request.noDelay } : {}),
      ...(request.keepAlive ? { keepAlive: request.keepAlive } : {}),
    });
  }

  listen(port: number, backlog?: number): void {
    this.tcp.listen(port, backlog);
  }

  unlisten(port: number): void {
    this.tcp.unlisten(port);
  }

  udpSend(port: number, host: string, remotePort: number, data: Uint8Array): void {
    this.udp.send(this.#sink, this.sourceFor(host), port, host, remotePort, data);
  }

  ping(host: string, id: number, sequence: number, data: Uint8Array = new Uint8Array(0)): void {
    this.#sink.packets.push(echoRequest(this.sourceFor(host), host, id, sequence, data));
  }

  /** Our address of the destination's family. */
  sourceFor(host: string): string {
    const family = familyOf(host);
    const source = this.addresses.find((a) => familyOf(a) === family);
    if (!source) throw new Error(`no IPv${family} address to reach ${host} from`);
    return source;
  }
}
