/**
 * The Tools screen's runs on the tunnel: the ping (ping.ts), the flood (flood.ts) and the UDP
 * listener (udp-listener.ts), and where each packet the device delivers goes: TCP and the
 * listener's port to the netstack, echo replies to the ping, the flood's echoes to the flood.
 */
import type { RandomSource } from "@wiregate/core";
import { buildUdp, parsePacket, protocolOf, udpPorts } from "@wiregate/packets";
import type { RelayConnection } from "@wiregate/relay-protocol";
import { addressLiteral } from "./dns/resolver.js";
import { Flood } from "./flood.js";
import { Ping } from "./ping.js";
import type { FloodRequest, FromWorker, PingRequest } from "./protocol.js";
import { openRelay } from "./relay-transport.js";
import type { Tunnel } from "./tunnel.js";
import { TRANSPORT_OVERHEAD } from "./tunnel-engine.js";
import { UdpListener } from "./udp-listener.js";

export interface TunnelToolsOptions {
  tunnel: Tunnel;
  post: (message: FromWorker) => void;
  now: () => number;
  /** For the ping's echo identifier. */
  random: RandomSource;
}

export class TunnelTools {
  readonly #o: TunnelToolsOptions;
  #ping: Ping | undefined;
  #flood: Flood | undefined;
  /** The Tools screen's UDP port inside the tunnel, on the tunnel's netstack. */
  #udp: UdpListener | undefined;

  constructor(options: TunnelToolsOptions) {
    this.#o = options;
  }

  /**
   * A packet the device delivered. Every packet of a download passes here: TCP and UDP are told
   * apart in place (`protocolOf`, `udpPorts`), and only what may be a ping's reply is parsed.
   */
  packet(data: Uint8Array): void {
    const protocol = protocolOf(data);
    if (protocol === 6) {
      this.#o.tunnel.tcp?.receive(data);
      return;
    }
    const ports = udpPorts(data);
    if (ports >= 0) {
      const destination = ports % 65536;
      if (destination === this.#udp?.port || this.#o.tunnel.tcp?.dnsPort(destination)) {
        this.#o.tunnel.tcp?.receive(data);
        return;
      }
      const flood = this.#flood;
      if (flood?.request.mode === "tunnel" && Math.floor(ports / 65536) === flood.request.port) {
        flood.reply();
      }
      return;
    }
    const ping = this.#ping;
    if (!ping || protocol < 0) return;
    const parsed = parsePacket(data);
    if (parsed?.echo?.type === "reply" && parsed.echo.id === ping.id) {
      ping.reply(parsed.echo.sequence, parsed.source, data.length);
    }
  }

  /** The tunnel is going down: the ping and the flood end and report. */
  stop(): void {
    this.stopPing();
    void this.#flood?.finish();
  }

  // ---------------------------------------------------------------- ping

  /** A ping; a destination that is a name is resolved through the tunnel's DNS first. */
  ping(request: PingRequest): void {
    this.stopPing();
    const tcp = this.#o.tunnel.tcp;
    if (!tcp || addressLiteral(request.destination)) {
      this.#startPing(request);
      return;
    }
    const asked = ++this.#pingAsked;
    tcp.addressOf(request.destination).then(
      (address) => {
        if (asked === this.#pingAsked) this.#startPing({ ...request, destination: address });
      },
      (e: Error) => {
        if (asked !== this.#pingAsked) return;
        this.#o.post({ type: "error", message: e.message });
        // Nothing was sent: the run is over.
        this.#o.post({
          type: "ping-done",
          summary: { transmitted: 0, received: 0, lossPercent: 0 },
        });
      },
    );
  }

  /** Pings asked for: a stop or a newer ping makes a pending name's ping moot. */
  #pingAsked = 0;

  #startPing(request: PingRequest): void {
    const { tunnel, post } = this.#o;
    const source = tunnel.source(request.destination);
    const hasDevice = tunnel.mtu !== undefined;
    if (!hasDevice || !source) {
      post({
        type: "error",
        message: hasDevice
          ? `no interface address of the same family as ${request.destination}`
          : "not connected",
      });
      return;
    }
    const run: Ping = new Ping({
      request,
      source,
      id: this.#o.random(2).reduce((a, b) => (a << 8) | b, 0),
      send: (packet) => void tunnel.send(packet),
      post,
      done: () => {
        if (this.#ping === run) this.#ping = undefined;
      },
      now: this.#o.now,
    });
    this.#ping = run;
    run.start();
  }

  stopPing(): void {
    this.#pingAsked++;
    this.#ping?.stop();
  }

  // ---------------------------------------------------------------- UDP listener

  udpListen(port: number): void {
    this.udpClose();
    const { tunnel, post } = this.#o;
    if (!tunnel.tcp) {
      post({ type: "error", message: "UDP listener: not connected" });
      return;
    }
    try {
      this.#udp = new UdpListener(tunnel.tcp.net, port, (status) =>
        post({ type: "udp-status", status }),
      );
    } catch (error) {
      post({ type: "error", message: `UDP listener: ${(error as Error).message}` });
    }
  }

  udpClose(): void {
    this.#udp?.close();
    this.#udp = undefined;
  }

  // ---------------------------------------------------------------- flood (benchmark)

  async flood(request: FloodRequest): Promise<void> {
    const { tunnel, post } = this.#o;
    const settings = tunnel.settings;
    const source = tunnel.source(request.destination);
    const mtu = tunnel.mtu;
    if (!settings || mtu === undefined || !source) {
      post({ type: "error", message: "flood: not connected" });
      return;
    }
    const payload = new Uint8Array(request.payload);
    const inner = (request.destination.includes(":") ? 48 : 28) + payload.length;
    const datagramBytes = TRANSPORT_OVERHEAD + Math.min(mtu, Math.ceil(inner / 16) * 16);
    let raw: RelayConnection | undefined;
    let send: () => void;
    if (request.mode === "raw") {
      raw = await openRelay(settings, request.upstream ?? "echo", () => run.reply())
        .then((opened) => opened.conn)
        .catch((error: Error) => {
          post({ type: "error", message: `flood: ${error.message}` });
          return undefined;
        });
      if (!raw) return;
      // Shaped like a transport message so the relay forwards it; the echo sends it back as is.
      const rawDatagram = new Uint8Array(datagramBytes);
      rawDatagram[0] = 4;
      const conn = raw;
      send = () => conn.send(rawDatagram);
    } else {
      const packet = buildUdp({
        source,
        destination: request.destination,
        sourcePort: 40_000,
        destinationPort: request.port,
        data: payload,
      });
      send = () => void tunnel.send(packet);
    }
    const losses = (raw ?? tunnel.conn)?.datagramLosses;
    const run: Flood = new Flood({
      request,
      datagramBytes,
      send,
      ...(losses ? { losses } : {}),
      now: this.#o.now,
      done: (result) => {
        if (this.#flood === run) this.#flood = undefined;
        raw?.close();
        post({ type: "flood-done", result });
      },
    });
    void this.#flood?.finish();
    this.#flood = run;
    run.start();
  }
}
