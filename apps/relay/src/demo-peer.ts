/**
 * The embedded demo peer: a WireGuard peer on the core's engine, listening on loopback, that
 * admits any client key and answers ICMP/ICMPv6 echo and UDP echo inside the tunnel, DNS for its
 * own name on port 53 (demo-dns.ts), and serves a web site over @wiregate/netstack TCP
 * (demo-http.ts) — so the relay works out of the box with no other WireGuard software.
 */
import { randomBytes } from "node:crypto";
import { threadId } from "node:worker_threads";
import {
  generatePrivateKey,
  ipFamilyOf,
  keyToBase64,
  parseIp,
  type TraceEvent,
  withSodiumAead,
} from "@wiregate/core";
import { nodeCrypto, UdpDevice } from "@wiregate/core/node";
import { Netstack, serveHttp } from "@wiregate/netstack";
import {
  buildUdp,
  DEMO_SERVER_V4,
  DEMO_SERVER_V6,
  echoReply,
  parsePacket,
  protocolOf,
  udpPorts,
} from "@wiregate/packets";
import sodium from "libsodium-wrappers";
import { DemoClients } from "./demo-clients.js";
import { answerDns, DEMO_DNS } from "./demo-dns.js";
import { demoHttp } from "./demo-http.js";

const PROTO_TCP = 6;
const DNS_PORT = 53;
/** TCP connections the demo peer's web site holds at most. */
export const DEMO_MAX_CONNECTIONS = 256;
/**
 * Send and receive buffer per connection: a 1 MiB window, as the netstack's default receive
 * window, so page downloads are not capped on long round trips (64 KiB were).
 */
export const DEMO_BUFFER = 1024 * 1024;
/** Full-size buffers for 16 connections at once; the others get 64 KiB each way. */
export const DEMO_BUFFER_BUDGET = { total: 32 * 1024 * 1024, fallback: 64 * 1024 };

export interface DemoPeerOptions {
  privateKey?: Uint8Array;
  host?: string;
  port?: number;
  /** Clients admitted at once; beyond it a newcomer takes the slot of an idle client, if any. */
  maxClients?: number;
  /** A client with no handshake for this long may lose its slot to a newcomer (default 180 s). */
  idleMs?: number;
  /** A key given addresses but with no handshake yet may lose them after this (default 30 s). */
  reservationMs?: number;
  onEvent?: (event: TraceEvent) => void;
}

export class DemoPeer {
  readonly #udp: UdpDevice;
  readonly #clients: DemoClients;
  /** TCP inside the tunnel (the web site); ICMP and UDP echo stay with `answer`. */
  readonly net: Netstack;

  private constructor(udp: UdpDevice, clients: DemoClients) {
    this.#udp = udp;
    this.#clients = clients;
    // Bounded for a public demo: connections (TIME-WAIT included), buffers per connection and in
    // total; a client that sends no request head within 10 s is dropped.
    this.net = new Netstack({
      addresses: [DEMO_SERVER_V4, DEMO_SERVER_V6],
      send: (packet) => udp.send(packet),
      maxConnections: DEMO_MAX_CONNECTIONS,
      tcp: { sendBuffer: DEMO_BUFFER, receiveBuffer: DEMO_BUFFER, timeWait: 10_000 },
      bufferBudget: DEMO_BUFFER_BUDGET,
    });
    const started = performance.now();
    void serveHttp(
      this.net.listen(80),
      demoHttp({
        startedAt: started,
        clients: () => udp.device.peerCount,
        connections: () => this.net.stack.tcp.connectionCount,
      }),
    );
  }

  static async start(options: DemoPeerOptions = {}): Promise<DemoPeer> {
    const clients = new DemoClients({
      maxClients: options.maxClients ?? 1024,
      idleMs: options.idleMs ?? 180_000,
      reservationMs: options.reservationMs ?? 30_000,
    });
    let peer: DemoPeer | undefined;
    await sodium.ready;
    const udp = await UdpDevice.start({
      // Every packet's ChaCha20-Poly1305 on libsodium's WebAssembly: cheaper per packet than a
      // node:crypto cipher object each (docs/performance.md, "The demo peer's cost per packet").
      crypto: withSodiumAead(sodium, nodeCrypto),
      privateKey: options.privateKey ?? generatePrivateKey((n) => new Uint8Array(randomBytes(n))),
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      onEvent: options.onEvent,
      // Every relay session reaches the demo peer from the relay's address on a UDP socket of its
      // own: under load, one handshake token bucket per session, not one shared by all clients.
      rateLimitBy: "endpoint",
      admitPeer: (publicKey) => peer?.admit(publicKey),
      onPacket: (packet, from) => peer?.answer(packet, from),
    });
    peer = new DemoPeer(udp, clients);
    return peer;
  }

  /**
   * The tunnel addresses (CIDR) of a client key, given to it now if it holds none; undefined when
   * every slot is held by an active client. The relay answers a hello's key hint with these.
   */
  addressesFor(publicKey: Uint8Array): string[] | undefined {
    const device = this.#udp.device;
    const now = performance.now();
    const admission = this.#clients.admit(
      publicKey,
      now,
      (key) => device.peerStatus(key)?.lastHandshakeAt,
    );
    if (!admission.ok) return undefined;
    if (admission.evicted) device.removePeer(now, admission.evicted);
    return admission.allowedIps;
  }

  /** A handshake from a new client key: its slot and addresses, or undefined (left unanswered). */
  private admit(publicKey: Uint8Array): { allowedIps: string[] } | undefined {
    const allowedIps = this.addressesFor(publicKey);
    return allowedIps ? { allowedIps } : undefined;
  }

  get publicKey(): string {
    return keyToBase64(this.#udp.device.publicKey);
  }

  get host(): string {
    return "127.0.0.1";
  }

  get port(): number {
    return this.#udp.port;
  }

  /** The thread the peer runs on (0: a process's main thread). */
  get threadId(): number {
    return threadId;
  }

  get clientCount(): number {
    return this.#udp.device.peerCount;
  }

  /**
   * A wg-quick configuration for a client with the given key pair (the key never leaves it), with
   * the addresses given to that key now. Throws when every slot is held by an active client.
   */
  clientConfig(client: { privateKey: string; publicKey: Uint8Array }, endpoint = "demo"): string {
    const addresses = this.addressesFor(client.publicKey);
    if (!addresses) throw new Error("DemoPeer.clientConfig: every client slot is in use");
    return [
      "[Interface]",
      `PrivateKey = ${client.privateKey}`,
      `Address = ${addresses.join(", ")}`,
      `DNS = ${DEMO_DNS}`,
      "",
      "[Peer]",
      `PublicKey = ${this.publicKey}`,
      `AllowedIPs = ${DEMO_SERVER_V4}/32, ${DEMO_SERVER_V6}/128`,
      `# Endpoint: the relay's "${endpoint}" upstream`,
      "",
    ].join("\n");
  }

  /** Starts a handshake toward a known client (used to provoke collisions in tests). */
  initiateHandshake(clientPublicKey: Uint8Array): void {
    this.#udp.initiateHandshake(clientPublicKey);
  }

  close(): Promise<void> {
    return this.#udp.close();
  }

  private answer(packet: Uint8Array, from: string): void {
    // Read in place: most packets are echoes or TCP, and this runs for every one of them.
    const protocol = protocolOf(packet);
    // Only what is addressed to the demo peer itself is answered.
    if (protocol < 0 || !toDemoServer(packet)) return;
    if (protocol === PROTO_TCP) {
      this.net.receive(packet);
      return;
    }
    const reply =
      udpPorts(packet) % 65536 === DNS_PORT ? answerDnsPacket(packet) : echoReply(packet);
    if (reply) this.#udp.sendToPeer(Buffer.from(from, "base64"), reply);
  }
}

const DEMO_SERVER_BYTES = { 4: addressBytes(DEMO_SERVER_V4), 6: addressBytes(DEMO_SERVER_V6) };

function addressBytes(address: string): Uint8Array {
  const parsed = parseIp(address);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.address.bytes;
}

/** Whether an IP packet `protocolOf` accepted is addressed to the demo peer. */
function toDemoServer(packet: Uint8Array): boolean {
  const v4 = ipFamilyOf(packet) === 4;
  const server = v4 ? DEMO_SERVER_BYTES[4] : DEMO_SERVER_BYTES[6];
  const at = v4 ? 16 : 24;
  for (let i = 0; i < server.length; i++) if (packet[at + i] !== server[i]) return false;
  return true;
}

/** The UDP packet answering a DNS query to the demo peer, or undefined. */
function answerDnsPacket(packet: Uint8Array): Uint8Array | undefined {
  const query = parsePacket(packet);
  const data = query?.udp && answerDns(query.udp.data);
  return data
    ? buildUdp({
        source: query.destination,
        destination: query.source,
        sourcePort: DNS_PORT,
        destinationPort: query.udp!.sourcePort,
        data,
      })
    : undefined;
}
