/**
 * The tunnel worker: owns the WireGuard device (noble, with libsodium's WebAssembly for the
 * per-packet AEAD when it loads; see tunnel-crypto.ts) and the relay session, so the page
 * never waits on crypto or on the network. Clocks: a DeviceRunner on real time drives the engine; the wall
 * clock (µs resolution) for TAI64N timestamps; randomness: crypto.getRandomValues, through a pool.
 */
import {
  Device,
  DeviceRunner,
  keyToBase64,
  nobleCrypto,
  type Output,
  pooledRandom,
  publicKey as publicKeyOf,
  realTime,
} from "@wiregate/core";
import { buildUdp, parsePacket } from "@wiregate/packets";
import {
  type ConnectRelayOptions,
  type ErrorCode,
  type RelayConnection,
  RelayError,
} from "@wiregate/relay-protocol";
import { Flood } from "./flood.js";
import { Ping } from "./ping.js";
import type {
  ConnectionState,
  ConnectSettings,
  FloodRequest,
  FromWorker,
  PingRequest,
  TimedEvent,
  ToWorker,
} from "./protocol.js";
import { type OpenedRelay, openRelaySession } from "./relay-transport.js";
import { loadTunnelCrypto } from "./tunnel-crypto.js";
import { TunnelTcp } from "./tunnel-tcp.js";
import { UdpListener } from "./udp-listener.js";

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (message: FromWorker) => scope.postMessage(message);

/** The engine's name for "the other end of the relay session"; opaque to it. */
const RELAY_ENDPOINT = { address: "relay", port: 0 };
/** WireGuard transport message overhead: 16-byte header + 16-byte tag. */
const TRANSPORT_OVERHEAD = 32;
/** Refusals that a retry cannot fix. */
const FATAL: ReadonlySet<string> = new Set<ErrorCode>([
  "unauthorized",
  "unknown-upstream",
  "version",
  "bad-hello",
]);

const now = () => performance.now();
/** One getRandomValues call per 4 KiB: the device asks for 2 bytes of jitter per packet. */
const random = pooledRandom((bytes) => crypto.getRandomValues(bytes));
/** Loading starts with the worker; the first connect waits for it (the device is built with it). */
const tunnelCrypto = loadTunnelCrypto();
const wallClock = () =>
  BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;

function openRelay(
  settings: ConnectSettings,
  upstream: string,
  onDatagram: (d: Uint8Array) => void,
  onError?: ConnectRelayOptions["onError"],
): Promise<OpenedRelay> {
  return openRelaySession({
    url: settings.url,
    upstream,
    // An upstream that hands out tunnel addresses (the demo peer) answers in the welcome.
    publicKey: keyToBase64(publicKeyOf(nobleCrypto, settings.privateKey)),
    onDatagram,
    ...(settings.token ? { token: settings.token } : {}),
    ...(onError ? { onError } : {}),
    ...(settings.websocketUrl ? { websocketUrl: settings.websocketUrl } : {}),
    ...(settings.certificateHash
      ? { serverCertificateHashes: [{ algorithm: "sha-256", value: settings.certificateHash }] }
      : {}),
  });
}

/** The WireGuard device and its driver; kept across reconnects while the MTU stays the same. */
interface Engine {
  device: Device;
  /** Drives the device on real time: every call at `now`, `tick` at its deadlines. */
  runner: DeviceRunner<Output>;
  mtu: number;
}

class Tunnel {
  #settings: ConnectSettings | undefined;
  #engine: Engine | undefined;
  #conn: RelayConnection | undefined;
  #state: ConnectionState = { phase: "idle" };
  #wanted = false;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #statusTimer: ReturnType<typeof setInterval> | undefined;
  #events: TimedEvent[] = [];
  #eventTimer: ReturnType<typeof setTimeout> | undefined;
  #relayErrors: string[] = [];
  #ping: Ping | undefined;
  #flood: Flood | undefined;
  /** The Tools screen's UDP port inside the tunnel, on the netstack of `tcp`. */
  #udp: UdpListener | undefined;
  /** TCP inside the tunnel (Browse screen, TCP console); one per device. */
  tcp: TunnelTcp | undefined;
  /** Interface addresses: the welcome's when the upstream assigned some, else the config's. */
  #addresses: string[] = [];

  connect(settings: ConnectSettings): void {
    this.disconnect();
    this.#settings = settings;
    this.#wanted = true;
    this.#attempt = 0;
    this.#relayErrors = [];
    this.#statusTimer = setInterval(() => void this.#postStatus(), 1000);
    void this.#connectOnce(settings);
  }

  disconnect(): void {
    this.#wanted = false;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#statusTimer);
    this.stopPing();
    void this.#flood?.finish();
    const conn = this.#conn;
    this.#conn = undefined;
    conn?.close();
    this.#engine?.runner.stop();
    this.#engine = undefined;
    this.#setState({ phase: "idle" });
  }

  handshake(): void {
    const engine = this.#engine;
    const settings = this.#settings;
    if (!engine || !settings) {
      post({ type: "error", message: "not connected" });
      return;
    }
    engine.runner.run((t) => engine.device.initiateHandshake(t, settings.peer.publicKey));
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    post({ type: "state", state });
  }

  async #connectOnce(settings: ConnectSettings): Promise<void> {
    const publicKey = keyToBase64(publicKeyOf(nobleCrypto, settings.privateKey));
    this.#setState({
      phase: this.#attempt === 0 ? "connecting" : "reconnecting",
      attempt: this.#attempt,
      publicKey,
    });
    const { backend, detail: cryptoDetail } = await tunnelCrypto;
    let opened: OpenedRelay;
    try {
      opened = await openRelay(
        settings,
        settings.upstream,
        (datagram) => this.#onDatagram(datagram),
        (error) => {
          this.#relayErrors = [...this.#relayErrors.slice(-9), `${error.code}: ${error.message}`];
        },
      );
    } catch (error) {
      if (!this.#wanted) return;
      const code = error instanceof RelayError ? error.code : "transport";
      this.#retryOrFail(code, (error as Error).message);
      return;
    }
    const { conn, transportMax } = opened;
    if (!this.#wanted || this.#settings !== settings) {
      conn.close();
      return;
    }
    const datagramSize = Math.min(
      conn.welcome.datagramSize,
      transportMax > 0 ? transportMax : Number.POSITIVE_INFINITY,
    );
    // Over HTTP/3 messages above the datagram limit take the message stream: the MTU stays 1420.
    const mtu = Math.max(datagramSize, conn.welcome.messageSize ?? 0) - TRANSPORT_OVERHEAD;
    this.#conn = conn;
    this.#attempt = 0;
    const addresses = conn.welcome.addresses?.map((a) => a.split("/")[0]!) ?? settings.addresses;
    const moved = addresses.join() !== this.#addresses.join();
    this.#addresses = addresses;
    let engine = this.#engine;
    const fresh = !engine || mtu !== engine.mtu || moved;
    if (!engine || fresh) {
      // A new device only on first connect or when the MTU or the addresses changed; keys are kept.
      engine?.runner.stop();
      const device = new Device({
        privateKey: settings.privateKey,
        random,
        wallClock,
        mtu,
        crypto: backend,
      });
      const runner = new DeviceRunner({
        scheduler: realTime,
        tick: (t) => device.tick(t),
        output: (out) => this.#handle(out),
      });
      engine = { device, runner, mtu };
      this.#engine = engine;
      this.udpClose();
      this.tcp = new TunnelTcp(addresses, mtu, (packet) => this.#send(packet));
      const peer = settings.peer;
      runner.run((t) =>
        device.addPeer(t, {
          publicKey: peer.publicKey,
          allowedIps: peer.allowedIps,
          endpoint: RELAY_ENDPOINT,
          ...(peer.presharedKey ? { presharedKey: peer.presharedKey } : {}),
          ...(peer.persistentKeepaliveSeconds
            ? { persistentKeepaliveSeconds: peer.persistentKeepaliveSeconds }
            : {}),
        }),
      );
    }
    this.#setState({
      phase: "connected",
      publicKey,
      session: {
        transport: conn.welcome.transport,
        polyfill: opened.kind,
        transportReason: opened.reason,
        sessionId: conn.welcome.sessionId,
        datagramSize,
        mtu,
        crypto: cryptoDetail,
      },
    });
    if (fresh) {
      const { device, runner } = engine;
      runner.run((t) => device.initiateHandshake(t, settings.peer.publicKey));
    }
    void this.#postStatus();
    void conn.closed.then(({ error }) => {
      if (this.#conn !== conn) return;
      this.#conn = undefined;
      if (!this.#wanted) return;
      this.#retryOrFail(
        error?.code ?? "transport",
        error ? `${error.code}: ${error.message}` : "session closed",
      );
    });
  }

  #retryOrFail(code: string, detail: string): void {
    if (FATAL.has(code)) {
      this.#wanted = false;
      clearInterval(this.#statusTimer);
      this.#setState({ phase: "failed", detail });
      return;
    }
    const delay = Math.min(10_000, 500 * 2 ** this.#attempt) * (0.8 + 0.4 * Math.random());
    this.#attempt++;
    this.#setState({
      phase: "reconnecting",
      attempt: this.#attempt,
      retryInMs: Math.round(delay),
      detail,
      ...("publicKey" in this.#state && this.#state.publicKey
        ? { publicKey: this.#state.publicKey }
        : {}),
    });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      if (this.#settings) void this.#connectOnce(this.#settings);
    }, delay);
  }

  #onDatagram(datagram: Uint8Array): void {
    const engine = this.#engine;
    engine?.runner.run((t) => engine.device.receive(t, datagram, RELAY_ENDPOINT));
  }

  #handle(output: Output): void {
    const conn = this.#conn;
    if (conn) for (const datagram of output.datagrams) conn.send(datagram.data);
    for (const packet of output.packets) this.#onPacket(packet.data);
    if (output.events.length > 0) {
      const origin = performance.timeOrigin;
      for (const event of output.events) this.#events.push({ ...event, at: origin + event.time });
      this.#eventTimer ??= setTimeout(() => {
        this.#eventTimer = undefined;
        post({ type: "events", events: this.#events.splice(0) });
      }, 50);
    }
  }

  async #postStatus(): Promise<void> {
    const device = this.#engine?.device;
    const settings = this.#settings;
    if (!settings) return;
    const conn = this.#conn;
    const relay = conn ? await conn.stats().catch(() => undefined) : undefined;
    const status = device?.peerStatus(settings.peer.publicKey);
    post({
      type: "status",
      now: now(),
      peers: status ? [status] : [],
      ...(relay ? { relay } : {}),
      receiveDrops: conn?.receiveDrops ?? 0,
      relayErrors: this.#relayErrors,
    });
  }

  /** Sends one plaintext packet into the tunnel; refuses (never drops silently) beyond the MTU. */
  #send(packet: Uint8Array): boolean {
    const engine = this.#engine;
    if (!engine) return false;
    if (packet.length > engine.mtu) {
      post({
        type: "error",
        message: `packet of ${packet.length} bytes exceeds the tunnel MTU of ${engine.mtu}`,
      });
      return false;
    }
    engine.runner.run((t) => engine.device.send(t, packet));
    return true;
  }

  #source(destination: string): string | undefined {
    const v6 = destination.includes(":");
    return this.#addresses.find((a) => a.includes(":") === v6);
  }

  // ---------------------------------------------------------------- ping

  ping(request: PingRequest): void {
    this.stopPing();
    const source = this.#source(request.destination);
    if (!this.#engine || !source) {
      post({
        type: "error",
        message: this.#engine
          ? `no interface address of the same family as ${request.destination}`
          : "not connected",
      });
      return;
    }
    const run: Ping = new Ping({
      request,
      source,
      id: random(2).reduce((a, b) => (a << 8) | b, 0),
      send: (packet) => void this.#send(packet),
      post,
      done: () => {
        if (this.#ping === run) this.#ping = undefined;
      },
      now,
    });
    this.#ping = run;
    run.start();
  }

  stopPing(): void {
    this.#ping?.stop();
  }

  #onPacket(data: Uint8Array): void {
    const parsed = parsePacket(data);
    if (!parsed) return;
    if (
      parsed.protocolNumber === 6 ||
      (this.#udp && parsed.udp?.destinationPort === this.#udp.port)
    ) {
      this.tcp?.receive(data);
      return;
    }
    const ping = this.#ping;
    if (ping && parsed.echo?.type === "reply" && parsed.echo.id === ping.id) {
      ping.reply(parsed.echo.sequence, parsed.source, data.length);
      return;
    }
    const flood = this.#flood;
    if (flood?.request.mode === "tunnel" && parsed.udp?.sourcePort === flood.request.port) {
      flood.reply();
    }
  }

  // ---------------------------------------------------------------- UDP listener

  udpListen(port: number): void {
    this.udpClose();
    if (!this.tcp) {
      post({ type: "error", message: "UDP listener: not connected" });
      return;
    }
    try {
      this.#udp = new UdpListener(this.tcp.net, port, (status) =>
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
    const settings = this.#settings;
    const source = this.#source(request.destination);
    const engine = this.#engine;
    if (!settings || !engine || !source) {
      post({ type: "error", message: "flood: not connected" });
      return;
    }
    const payload = new Uint8Array(request.payload);
    const inner = (request.destination.includes(":") ? 48 : 28) + payload.length;
    const datagramBytes = TRANSPORT_OVERHEAD + Math.min(engine.mtu, Math.ceil(inner / 16) * 16);
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
      send = () => void this.#send(packet);
    }
    const losses = (raw ?? this.#conn)?.datagramLosses;
    const run: Flood = new Flood({
      request,
      datagramBytes,
      send,
      ...(losses ? { losses } : {}),
      now,
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

const tunnel = new Tunnel();

scope.addEventListener("message", (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "connect":
      tunnel.connect(message.settings);
      break;
    case "disconnect":
      tunnel.disconnect();
      break;
    case "handshake":
      tunnel.handshake();
      break;
    case "ping":
      tunnel.ping(message.request);
      break;
    case "ping-stop":
      tunnel.stopPing();
      break;
    case "flood":
      void tunnel.flood(message.request);
      break;
    case "udp-listen":
      tunnel.udpListen(message.port);
      break;
    case "udp-close":
      tunnel.udpClose();
      break;
    case "http":
      if (tunnel.tcp) void tunnel.tcp.http(message.request, message.port);
      else message.port.postMessage({ type: "error", message: "not connected" });
      break;
    case "tcp-open":
      if (tunnel.tcp) void tunnel.tcp.console(message.host, message.port, message.channel);
      else message.channel.postMessage({ type: "error", message: "not connected" });
      break;
  }
});
