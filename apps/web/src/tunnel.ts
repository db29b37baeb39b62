/**
 * The tunnel's connection in the worker: a relay session carrying the device's datagrams, dialled
 * again when it ends without the user asking (reconnect.ts). The device (tunnel-engine.ts) is kept
 * across sessions, so the first packet after a reconnect resumes the tunnel; it is rebuilt, keys
 * kept, only when the MTU or the interface addresses change. The page is told each state change.
 */
import {
  keyToBase64,
  nobleCrypto,
  publicKey as publicKeyOf,
  type RandomSource,
} from "@wiregate/core";
import type { RelayConnection, WebTransportLike } from "@wiregate/relay-protocol";
import { sessionKeepaliveSeconds } from "./keepalive.js";
import type { ConnectionState, ConnectSettings, FromWorker, RelayTarget } from "./protocol.js";
import { Reconnect } from "./reconnect.js";
import { chooseRelay } from "./relay-choice.js";
import { RelayFleet } from "./relay-fleet.js";
import { browserLosses, type OpenedRelay, openRelay, relayTargets } from "./relay-transport.js";
import { RelayWatch } from "./relay-watch.js";
import type { TunnelCrypto } from "./tunnel-crypto.js";
import { sessionLimits, TunnelEngine } from "./tunnel-engine.js";
import { TunnelReport } from "./tunnel-report.js";
import { TunnelTcp } from "./tunnel-tcp.js";

export interface TunnelOptions {
  post: (message: FromWorker) => void;
  now: () => number;
  random: RandomSource;
  wallClock: () => bigint;
  /** The crypto backend; the first connect waits for it. */
  crypto: Promise<TunnelCrypto>;
  /** A plaintext packet the device delivered (for TCP and the Tools screen). */
  packet: (data: Uint8Array) => void;
  /** A new device replaced the old one: what was bound to the old netstack is gone. */
  deviceReplaced: () => void;
  /** The tunnel is being taken down: runs that use it end. */
  stopping: () => void;
}

export class Tunnel {
  readonly #o: TunnelOptions;
  readonly #report: TunnelReport;
  readonly #reconnect: Reconnect;
  #settings: ConnectSettings | undefined;
  #engine: TunnelEngine | undefined;
  #conn: RelayConnection | undefined;
  /** The browser's own WebTransport of the session (none over the WebSocket mapping). */
  #native: WebTransportLike | undefined;
  #state: ConnectionState = { phase: "idle" };
  #wanted = false;
  /** The settings of the tunnel the page had when it was hidden (`pageHidden`). */
  #resume: ConnectSettings | undefined;
  /** TCP inside the tunnel (Browse screen, TCP console, UDP listener); one per device. */
  tcp: TunnelTcp | undefined;
  /** Interface addresses: the welcome's when the upstream assigned some, else the config's. */
  #addresses: string[] = [];
  /** The device's persistent keepalive, from the relay's idle timeout (keepalive.ts). */
  #keepaliveSeconds = 0;
  /** The relays of the settings and the order to try them in. */
  #fleet: RelayFleet | undefined;
  /** Which of them the session is on. */
  #relayIndex = 0;
  /** Of a fleet: notices a relay that went silent without closing the session. */
  #watch: RelayWatch | undefined;

  constructor(options: TunnelOptions) {
    this.#o = options;
    this.#report = new TunnelReport({
      post: options.post,
      now: options.now,
      timeOrigin: performance.timeOrigin,
      source: () => {
        const settings = this.#settings;
        if (!settings) return undefined;
        const engine = this.#engine;
        const conn = this.#conn;
        const native = this.#native;
        return {
          conn,
          peerStatus: () => engine?.peerStatus(settings.peer.publicKey),
          ...(native ? { browserLosses: () => browserLosses(native) } : {}),
        };
      },
    });
    this.#reconnect = new Reconnect({
      retry: () => {
        if (this.#settings) void this.#connectOnce(this.#settings);
      },
    });
  }

  get settings(): ConnectSettings | undefined {
    return this.#settings;
  }
  /** The relay session while there is one. */
  get conn(): RelayConnection | undefined {
    return this.#conn;
  }
  /** The tunnel MTU while there is a device. */
  get mtu(): number | undefined {
    return this.#engine?.mtu;
  }

  connect(settings: ConnectSettings): void {
    this.disconnect();
    this.#settings = settings;
    this.#fleet = new RelayFleet(relayTargets(settings));
    this.#wanted = true;
    this.#reconnect.reset();
    this.#report.start();
    void this.#connectOnce(settings);
  }

  /**
   * The page went away (its sessions are closed already, relay-sessions.ts): the tunnel stops
   * without dialling again, and resumes with the same settings if the page is shown again.
   */
  pageHidden(): void {
    this.#resume = this.#wanted ? this.#settings : undefined;
    this.disconnect();
  }

  /** The page is back from the back-forward cache: the tunnel it had connects again. */
  pageShown(): void {
    const settings = this.#resume;
    this.#resume = undefined;
    if (settings) this.connect(settings);
  }

  disconnect(): void {
    this.#wanted = false;
    this.#reconnect.cancel();
    this.#report.stop();
    this.#o.stopping();
    this.#watch?.stop();
    const conn = this.#conn;
    this.#conn = undefined;
    conn?.close();
    this.#engine?.stop();
    this.#engine = undefined;
    this.#setState({ phase: "idle" });
  }

  /**
   * A new token (the last one expired): the next session uses it, and a tunnel that failed dials
   * again at once. The device and its keys stay, so the tunnel resumes as after any reconnect.
   */
  useToken(token: string): void {
    const settings = this.#settings;
    if (!settings) return;
    this.#settings = { ...settings, token };
    if (this.#state.phase !== "failed") return;
    this.#wanted = true;
    this.#reconnect.reset();
    this.#report.start();
    void this.#connectOnce(this.#settings);
  }

  handshake(): void {
    const engine = this.#engine;
    const settings = this.#settings;
    if (!engine || !settings) {
      this.#o.post({ type: "error", message: "not connected" });
      return;
    }
    engine.initiateHandshake(settings.peer.publicKey);
  }

  /** Sends one plaintext packet into the tunnel; refuses (never drops silently) beyond the MTU. */
  send(packet: Uint8Array): boolean {
    const engine = this.#engine;
    if (!engine) return false;
    if (packet.length > engine.mtu) {
      this.#o.post({
        type: "error",
        message: `packet of ${packet.length} bytes exceeds the tunnel MTU of ${engine.mtu}`,
      });
      return false;
    }
    engine.send(packet);
    return true;
  }

  /** The interface address of the same family as `destination`, if there is one. */
  source(destination: string): string | undefined {
    const v6 = destination.includes(":");
    return this.#addresses.find((a) => a.includes(":") === v6);
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    this.#o.post({ type: "state", state });
  }

  async #connectOnce(settings: ConnectSettings): Promise<void> {
    const publicKey = keyToBase64(publicKeyOf(nobleCrypto, settings.privateKey));
    const attempt = this.#reconnect.attempt;
    this.#setState({ phase: attempt === 0 ? "connecting" : "reconnecting", attempt, publicKey });
    const fleet = this.#fleet!;
    const { backend, detail: cryptoDetail } = await this.#o.crypto;
    let dialled: { opened: OpenedRelay; index: number; reason: string };
    try {
      dialled = await this.#dial(settings, fleet);
    } catch (error) {
      if (!this.#wanted) return;
      this.#retryOrFail(Reconnect.codeOf(error), (error as Error).message);
      return;
    }
    const { opened, index } = dialled;
    const { conn, transportMax } = opened;
    if (!this.#wanted || this.#settings !== settings) {
      conn.close();
      return;
    }
    const { datagramSize, mtu } = sessionLimits(conn.welcome, transportMax);
    this.#conn = conn;
    this.#native = opened.native;
    this.#relayIndex = index;
    this.#reconnect.reset();
    const relay = fleet.arrived(index, dialled.reason, this.#o.now(), Date.now());
    const addresses = conn.welcome.addresses?.map((a) => a.split("/")[0]!) ?? settings.addresses;
    const moved = addresses.join() !== this.#addresses.join();
    this.#addresses = addresses;
    // A connected page left alone keeps its session: WireGuard's persistent keepalive reaches the
    // relay before its idle timeout (before, the relay closed it every two minutes and it redialed).
    const keepalive = sessionKeepaliveSeconds(
      conn.welcome.idleTimeoutMs,
      settings.peer.persistentKeepaliveSeconds,
    );
    const keepaliveChanged = keepalive !== this.#keepaliveSeconds;
    this.#keepaliveSeconds = keepalive;
    let engine = this.#engine;
    const fresh = !engine || mtu !== engine.mtu || moved || keepaliveChanged;
    if (!engine || fresh) {
      // A new device only on first connect or when the MTU, the addresses or the keepalive
      // changed; keys are kept.
      engine?.stop();
      engine = new TunnelEngine({
        privateKey: settings.privateKey,
        mtu,
        crypto: backend,
        random: this.#o.random,
        wallClock: this.#o.wallClock,
        output: (out) => {
          const conn = this.#conn;
          if (conn) for (const datagram of out.datagrams) conn.send(datagram.data);
          for (const packet of out.packets) this.#o.packet(packet.data);
          this.#report.events(out.events);
        },
      });
      this.#engine = engine;
      this.#o.deviceReplaced();
      this.tcp?.close();
      const device = engine;
      this.tcp = new TunnelTcp(
        addresses,
        mtu,
        (packet) => this.send(packet),
        settings.dns ?? { servers: [], search: [] },
        this.#o.random,
        () => device.peerStatus(settings.peer.publicKey)?.handshake === "established",
      );
      engine.addPeer({ ...settings.peer, persistentKeepaliveSeconds: keepalive });
    }
    this.#setState({
      phase: "connected",
      publicKey,
      session: {
        relay,
        transport: conn.welcome.transport,
        polyfill: opened.kind,
        transportReason: opened.reason,
        sessionId: conn.welcome.sessionId,
        carriage: conn.carriage,
        carriageReason:
          conn.welcome.carriageReason ?? "the relay does not know the stream carriage",
        datagramSize,
        mtu,
        crypto: cryptoDetail,
      },
    });
    if (fresh) engine.initiateHandshake(settings.peer.publicKey);
    // Of a fleet, on another relay (or the same one again): the upstream roams to the relay's new
    // socket with the first packet from the page; one now, so what it sends meanwhile is not lost.
    else if (fleet.isFleet) engine.keepalive(settings.peer.publicKey);
    void this.#report.status();
    if (fleet.isFleet) {
      this.#watch = new RelayWatch(conn, (detail) => this.#lost(conn, "transport", detail));
      this.#watch.start();
    }
    void conn.closed.then(({ error }) =>
      this.#lost(
        conn,
        error?.code ?? "transport",
        error ? `${error.code}: ${error.message}` : "session closed",
      ),
    );
  }

  /**
   * Opens a session: to the one relay; to the best of a fleet not measured yet (every relay is
   * dialled and timed, relay-choice.ts); else to the next in the fleet's ranking.
   */
  async #dial(
    settings: ConnectSettings,
    fleet: RelayFleet,
  ): Promise<{ opened: OpenedRelay; index: number; reason: string }> {
    const dial = (target: RelayTarget, skipNative?: string) =>
      openRelay(
        settings,
        settings.upstream,
        (datagram) => this.#engine?.receive(datagram),
        (error) => this.#report.relayError(error),
        target,
        skipNative,
      );
    if (!fleet.isFleet)
      return { opened: await dial(fleet.targets[0]!), index: 0, reason: "the only relay given" };
    if (fleet.unmeasured) {
      const choice = await chooseRelay(fleet.targets, (target) => dial(target), this.#o.now);
      fleet.measured(choice.measurements, choice.ranking, choice.best !== undefined);
      if (choice.best) return { ...choice.best, reason: choice.reason };
      // A refusal another relay would repeat (token, upstream) is final; else the first error.
      const errors = [...choice.errors.values()];
      throw (
        errors.find((e) => Reconnect.isFinal(Reconnect.codeOf(e))) ??
        errors[0] ??
        new Error("no relay answered")
      );
    }
    const index = fleet.next;
    try {
      const opened = await dial(fleet.targets[index]!, fleet.skipNative(index));
      return { opened, index, reason: "next in the ranking" };
    } catch (error) {
      fleet.demote(index);
      throw error;
    }
  }

  /** The session on `conn` ended without the user asking: the next relay, or the same again. */
  #lost(conn: RelayConnection, code: string, detail: string): void {
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    this.#watch?.stop();
    this.#watch = undefined;
    conn.close();
    if (!this.#wanted) return;
    const fleet = this.#fleet!;
    fleet.lost(this.#relayIndex, detail, this.#o.now());
    this.#retryOrFail(
      code,
      fleet.isFleet ? `${fleet.targets[this.#relayIndex]!.name}: ${detail}` : detail,
    );
  }

  #retryOrFail(code: string, detail: string): void {
    const retry = this.#reconnect.failed(code);
    if (!retry) {
      this.#wanted = false;
      this.#report.stop();
      this.#setState({ phase: "failed", detail, code });
      return;
    }
    const fleet = this.#fleet;
    this.#setState({
      phase: "reconnecting",
      attempt: retry.attempt,
      retryInMs: Math.round(retry.delayMs),
      detail,
      ...(fleet?.isFleet && !fleet.unmeasured ? { next: fleet.targets[fleet.next]!.name } : {}),
      ...("publicKey" in this.#state && this.#state.publicKey
        ? { publicKey: this.#state.publicKey }
        : {}),
    });
  }
}
