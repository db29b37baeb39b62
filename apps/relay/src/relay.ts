/**
 * The relay: accepts WebTransport sessions (HTTP/2 + WebSocket always, HTTP/3 when the quiche add-on
 * loads), keeps the session table, sweeps idle sessions, swaps the certificate, and drains on stop.
 * Each incoming session goes through the session gate (session-gate.ts), which applies admission.
 */

import { randomBytes, X509Certificate } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Http2Server, type Http3Server } from "@fails-components/webtransport";
import { closeBeaconPath, stallSlackMs } from "@wiregate/relay-protocol";
import type { Registry } from "prom-client";
import { Admission } from "./admission.js";
import { CertificateKeeper } from "./certificates.js";
import { answerCloseBeacon } from "./close-beacon.js";
import { isLoopback, isLoopbackAddress, type RelayConfig } from "./config.js";
import { guardConnections } from "./connection-guard.js";
import { type CertificateMaterial, certificateDnsNames } from "./dev-cert.js";
import { type Http3Options, startHttp3, stopHttp3 } from "./http3-listener.js";
import { Identity } from "./identity/identity.js";
import { registerIdentityMetrics } from "./identity/identity-metrics.js";
import { checkKeyFileMode } from "./key-file-mode.js";
import { startLocalHttp, type UpgradeListener } from "./local-http.js";
import { type Logger, silentLogger } from "./logger.js";
import { createMetrics, RelayCounters } from "./metrics.js";
import { closeOpsServer, startOpsServer } from "./ops-server.js";
import { ownOrigins } from "./origin-check.js";
import { holdPortPair } from "./port-pair.js";
import { RefusalAudit } from "./refusal-audit.js";
import type { RelaySession } from "./session.js";
import { SessionGate } from "./session-gate.js";
import type { CaptureSink, ServerSessionLike } from "./session-types.js";
import { contentSecurityPolicy } from "./static-files.js";
import { attachTlsPort, libraryHttp2Server } from "./tls-port.js";
import { unseenLossReader } from "./unseen-losses.js";
import { probeReceiveBuffer, type ReceiveBufferProbe } from "./upstream-buffer.js";
import { UpstreamRegistry } from "./upstreams.js";

export interface RelayOptions {
  config: RelayConfig;
  logger?: Logger;
  /** Shared with whoever registers embedded upstreams (e.g. the demo peer). */
  upstreams?: UpstreamRegistry;
  capture?: CaptureSink;
  /** Monotonic milliseconds used for idleness; tests pass a virtual clock. */
  clock?: () => number;
  /** The process's resident set size in bytes, for load shedding; tests pass their own. */
  rss?: () => number;
}

export interface RelayAddress {
  host: string;
  port: number;
  url: string;
  /** SHA-256 of the certificate's DER. */
  certificateSha256: Uint8Array;
  opsPort: number | null;
  transports: ("http2" | "http3")[];
  /** Why HTTP/3 is not among the transports (disabled, add-on missing, failed to start). */
  http3Missing?: string;
  /** The page on the loopback plain-HTTP listener, when it runs (see local-http.ts). */
  localHttpUrl?: string;
  /** The URL to open the page at on that listener (wiregate.localhost when it reaches it). */
  localPageUrl?: string;
  /** The receive buffer each session's upstream socket gets on this host (see upstream-buffer.ts). */
  upstreamReceiveBuffer?: ReceiveBufferProbe;
}

/** Before an HTTP/3 restart, how long the sessions' close frames have to leave. */
const HTTP3_CLOSE_GRACE_MS = 100;

/** How often refusals that were not logged are summed up in one line. */
const REFUSAL_SUMMARY_MS = 1_000;

export class Relay {
  readonly upstreams: UpstreamRegistry;
  readonly counters = new RelayCounters();
  readonly metrics: Registry;
  readonly sessions = new Set<RelaySession>();
  readonly #config: RelayConfig;
  readonly #log: Logger;
  readonly #clock: () => number;
  /** When the relay last ran again after a stall (its idle sweep came late), at `#clock`. */
  #resumedAt = Number.NEGATIVE_INFINITY;
  readonly #admission: Admission;
  readonly #gate: SessionGate;
  readonly #audit: RefusalAudit;
  /** Signed tokens and per-user policy, when an issuer is configured. */
  readonly identity: Identity | undefined;
  /** The TLS port's connections and the loopback listener's WebSocket upgrades: ended at stop. */
  readonly #sockets = new Set<Socket>();
  #servers: { kind: "http2" | "http3"; server: Http2Server | Http3Server }[] = [];
  #ops: HttpServer | undefined;
  #localHttp: HttpServer | undefined;
  #draining = false;
  #http3Missing: string | undefined;
  #idleSweep: ReturnType<typeof setInterval> | undefined;
  #refusalSummary: ReturnType<typeof setInterval> | undefined;
  #certificates: CertificateKeeper | undefined;
  /** How HTTP/3 was started, to start it again with a new certificate. */
  #http3Options: Http3Options | undefined;
  /** Certificate swaps, one after the other. */
  #swapping: Promise<void> = Promise.resolve();
  /** Reads what the sessions lost out of the relay's sight (unseen-losses.ts). */
  readonly #readLosses = unseenLossReader(() => this.sessions);

  /** JSON documents served on the TLS port at exact paths (see `publish`). */
  readonly #published = new Map<string, string>();

  constructor(options: RelayOptions) {
    this.#config = options.config;
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock ?? (() => performance.now());
    this.#audit = new RefusalAudit(this.#log, this.counters);
    this.upstreams = options.upstreams ?? new UpstreamRegistry(options.config.upstreams);
    if (options.upstreams)
      for (const entry of options.config.upstreams) this.upstreams.register(entry);
    this.metrics = createMetrics(this.counters, () => this.transports, this.#readLosses);
    const { identity: identityConfig, limits } = options.config;
    const issuer = identityConfig.issuer;
    this.identity =
      issuer === null
        ? undefined
        : new Identity({ ...identityConfig, issuer }, limits.maxSessions, this.#log);
    if (this.identity) registerIdentityMetrics(this.metrics, this.identity);
    this.#admission = new Admission(
      options.config.tokens,
      limits,
      options.config,
      this.upstreams,
      options.rss ?? (() => process.memoryUsage.rss()),
      this.identity,
      identityConfig.sharedTokens,
    );
    this.#gate = new SessionGate({
      admission: this.#admission,
      audit: this.#audit,
      limits: options.config.limits,
      counters: this.counters,
      logger: this.#log,
      capture: options.capture,
      clock: this.#clock,
      sessions: this.sessions,
    });
  }

  /** The certificate being served. */
  get certificate(): CertificateMaterial | undefined {
    return this.#certificates?.current;
  }

  /** Where the certificate comes from; `reload()` and `renewNow()` bring a new one in. */
  get certificates(): CertificateKeeper | undefined {
    return this.#certificates;
  }

  get openMode(): boolean {
    return this.#admission.openMode;
  }

  /** Serves `value` as JSON at `path` on the TLS port (e.g. the web page's defaults). */
  publish(path: string, value: unknown): void {
    if (!path.startsWith("/"))
      throw new TypeError(`publish: path must start with "/", got ${path}`);
    this.#published.set(path, JSON.stringify(value));
  }

  async start(): Promise<RelayAddress> {
    const config = this.#config;
    if (this.openMode && !isLoopback(config.host)) {
      throw new Error(
        `relay: open mode (no tokens) is only allowed on loopback, not ${config.host}`,
      );
    }
    const names = [...new Set(["localhost", "127.0.0.1", "::1", config.host])].filter(
      (n) => !["0.0.0.0", "::"].includes(n),
    );
    if (config.certFile && config.keyFile) await checkKeyFileMode(config.keyFile);
    await this.identity?.start();
    // A development certificate covers the Browse domain's hosts too; a given one must.
    const certNames = config.browseDomain ? [...names, `*.${config.browseDomain}`] : names;
    const certificates = await CertificateKeeper.open({ config, names: certNames, log: this.#log });
    const sample = config.browseDomain && `v4-80-10-0-0-1.${config.browseDomain}`;
    if (sample && new X509Certificate(certificates.current.certPem).checkHost(sample) === undefined)
      throw new Error(
        `relay: the certificate does not cover *.${config.browseDomain} (browseDomain): Browse origins need a wildcard certificate for it (docs/deploy.md, "Browse")`,
      );
    this.#certificates = certificates;
    const tls = { cert: certificates.current.certPem, privKey: certificates.current.keyPem };
    const secret = randomBytes(32).toString("hex");

    // Port 0: a number free for UDP too, held until HTTP/3 has it (port-pair.ts).
    const held = config.port === 0 && config.http3 ? await holdPortPair(config.host) : undefined;
    try {
      return await this.#listen(
        config,
        held?.port ?? config.port,
        names,
        certificates,
        tls,
        secret,
      );
    } finally {
      await held?.release();
    }
  }

  async #listen(
    config: RelayConfig,
    listenPort: number,
    names: string[],
    certificates: CertificateKeeper,
    tls: { cert: string; privKey: string },
    secret: string,
  ): Promise<RelayAddress> {
    const http2 = new Http2Server({ port: listenPort, host: config.host, secret, ...tls });
    // Create the library's node server now so it can be hooked before it accepts anything.
    await (http2 as unknown as { createTransportInt(): Promise<void> }).createTransportInt();
    // The library's WebSocket handler, before any other: the loopback listener hands it upgrades.
    const track = (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    };
    const libraryUpgrade = libraryHttp2Server(http2).listeners("upgrade") as UpgradeListener[];
    // An upgraded socket is no longer the HTTP server's to close: a client that goes away without
    // ending its WebSocket (Firefox, when its page closes) would keep the listener from closing.
    const upgrade: UpgradeListener[] = [
      (req, socket, head) => {
        track(socket);
        for (const listener of libraryUpgrade) listener(req, socket, head);
      },
    ];
    const { browseDomain } = config;
    const site = {
      root: config.staticDir,
      generated: this.#published,
      ...(browseDomain ? { policy: contentSecurityPolicy([browseDomain]) } : {}),
    };
    // A public relay's Browse origins: framed by the page at the certificate's names.
    let pagePort = config.port;
    const pageOrigins = () =>
      ownOrigins(
        [...names, ...certificateDnsNames(certificates.current.certPem)].filter(
          (n) => !n.startsWith("*."),
        ),
        pagePort,
      );
    attachTlsPort(
      libraryHttp2Server(http2),
      site,
      track,
      browseDomain ? { domain: browseDomain, pageOrigins } : undefined,
      {
        path: closeBeaconPath(config.path),
        answer: (body) => answerCloseBeacon(body, this.sessions),
      },
    );
    guardConnections(libraryHttp2Server(http2), config.limits, this.#audit);
    http2.startServer();
    await http2.ready;
    const port = http2.address()?.port ?? config.port;
    pagePort = port;
    // A page served under one of the names the certificate covers may connect under another.
    this.#admission.origins = {
      requireOrigin: config.requireOrigin,
      allowedOrigins: [...config.allowedOrigins, ...ownOrigins(names, port)],
      browseDomains: browseDomain ? [browseDomain] : [],
    };
    this.#servers.push({ kind: "http2", server: http2 });
    // The configured host passed a literal check; a name may still resolve elsewhere.
    const bound = (libraryHttp2Server(http2).address() as AddressInfo).address;
    if (this.openMode && !isLoopbackAddress(bound)) {
      await this.stop(0);
      throw new Error(
        `relay: open mode (no tokens) is only allowed on loopback; ${config.host} is bound to ${bound}`,
      );
    }

    this.#http3Options = { path: config.path, port, host: config.host, secret, ...tls };
    const http3 = config.http3
      ? await startHttp3(this.#http3Options)
      : "disabled by configuration (--no-http3)";
    if (typeof http3 === "string") this.#http3Missing = http3;
    else this.#servers.push({ kind: "http3", server: http3 });
    if (this.#http3Missing)
      this.#log.warn("HTTP/3 is off: serving HTTP/2 and WebSocket only", {
        reason: this.#http3Missing,
      });
    for (const { kind, server } of this.#servers) void this.#accept(kind, server);
    const idleCheck = Math.max(50, Math.min(5_000, config.limits.idleTimeoutMs / 4));
    let lastTick = performance.now();
    this.#idleSweep = setInterval(() => {
      const tick = performance.now();
      const late = tick - lastTick - idleCheck;
      lastTick = tick;
      // A tick that comes late means the relay did not run meanwhile (stopped, starved): what its
      // clients sent in that time is still unread in the sockets, read only after this timer. No
      // session is judged idle for that time: each gets its whole idle timeout from now on.
      if (late > stallSlackMs(idleCheck)) this.#resumedAt = this.#clock();
      this.sweepIdle();
      void this.#readLosses();
    }, idleCheck);
    this.#idleSweep.unref();
    this.#refusalSummary = setInterval(() => this.#audit.flush(), REFUSAL_SUMMARY_MS);
    this.#refusalSummary.unref();
    certificates.registerMetrics(this.metrics);
    certificates.onChange((material) => {
      this.#swapping = this.#swapping.then(() => this.#useCertificate(material));
      return this.#swapping;
    });
    await certificates.start(libraryHttp2Server(http2));

    let opsPort: number | null = null;
    if (config.opsPort !== null) {
      try {
        const ops = await startOpsServer(config.opsHost, config.opsPort, config.opsPublic, {
          metrics: this.metrics,
          health: () => ({
            draining: this.#draining,
            sessions: this.sessions.size,
            transports: this.transports,
            ...(this.#http3Missing ? { http3Missing: this.#http3Missing } : {}),
          }),
        });
        this.#ops = ops.server;
        opsPort = ops.port;
      } catch (error) {
        await this.stop(0);
        throw error;
      }
    }
    let localHttp: { url: string; pageUrl: string } | undefined;
    if (config.localHttpPort !== null) {
      const local = await startLocalHttp({
        host: config.localHttpHost,
        port: config.localHttpPort,
        site,
        upgrade,
        limits: config.limits,
      }).catch(async (error: unknown) => {
        await this.stop(0);
        throw error;
      });
      this.#localHttp = local.server;
      localHttp = local;
      const origins = this.#admission.origins;
      const allowedOrigins = [...origins.allowedOrigins, ...local.origins];
      this.#admission.origins = { ...origins, allowedOrigins };
    }
    const upstreamReceiveBuffer = await probeReceiveBuffer(
      config.limits.upstreamReceiveBufferBytes,
    );
    if (upstreamReceiveBuffer.capped)
      this.#log.warn(
        "upstream sockets get a smaller receive buffer than asked: raise net.core.rmem_max",
        {
          ...upstreamReceiveBuffer,
        },
      );
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const url = `https://${host}:${port}${config.path}`;
    // Tokens are for this relay: its URL unless an audience is configured.
    if (this.identity && config.identity.audience.length === 0)
      this.identity.verifier.audience = [url];
    return {
      host: config.host,
      port,
      url,
      certificateSha256: certificates.current.sha256,
      opsPort,
      transports: this.transports,
      ...(this.#http3Missing ? { http3Missing: this.#http3Missing } : {}),
      ...(localHttp ? { localHttpUrl: localHttp.url, localPageUrl: localHttp.pageUrl } : {}),
      upstreamReceiveBuffer,
    };
  }

  /** The transports being served, HTTP/2 first. */
  get transports(): ("http2" | "http3")[] {
    return this.#servers.map((s) => s.kind);
  }

  /**
   * Serves `material` from now on. HTTP/2 takes it for new connections and keeps the open ones;
   * HTTP/3 cannot swap (see http3-listener.ts): its sessions are closed, and clients reconnect to
   * a new server on the same port.
   */
  async #useCertificate(material: CertificateMaterial): Promise<void> {
    const tls = { cert: material.certPem, privKey: material.keyPem };
    for (const { kind, server } of this.#servers)
      if (kind === "http2") server.updateCert(tls.cert, tls.privKey, true);
    const old = this.#servers.find((s) => s.kind === "http3");
    const options = this.#http3Options;
    if (!old || this.#draining || !options) return;
    let closed = 0;
    for (const session of [...this.sessions]) {
      if (session.ctx.transport !== "http3") continue;
      session.close("certificate-changed");
      closed++;
    }
    // The close frames leave through the old server's socket: give them a moment to go.
    if (closed > 0) await new Promise((resolve) => setTimeout(resolve, HTTP3_CLOSE_GRACE_MS));
    const stoppedAt = performance.now();
    this.#servers = this.#servers.filter((s) => s !== old);
    stopHttp3(old.server as Http3Server);
    this.#http3Options = { ...options, ...tls };
    const fresh = await startHttp3(this.#http3Options);
    if (typeof fresh === "string") this.#http3Missing = fresh;
    else {
      this.#http3Missing = undefined;
      this.#servers.push({ kind: "http3", server: fresh });
      void this.#accept("http3", fresh);
    }
    this.#log.info("HTTP/3 restarted with the new certificate", {
      closedSessions: closed,
      downMs: Math.round(performance.now() - stoppedAt),
      ...(typeof fresh === "string" ? { http3Missing: fresh } : {}),
    });
  }

  async #accept(kind: "http2" | "http3", server: Http2Server | Http3Server): Promise<void> {
    const reader = server.sessionStream(this.#config.path).getReader();
    for (;;) {
      let next: { done?: boolean; value?: unknown };
      try {
        next = await reader.read();
      } catch {
        return;
      }
      if (next.done) return;
      this.#gate.enter(next.value as ServerSessionLike, kind, this.#draining);
    }
  }

  /**
   * Closes every session idle for longer than `limits.idleTimeoutMs` at the relay's clock; runs
   * on a timer, and may be called directly. Returns how many it closed; they have left `sessions`.
   */
  sweepIdle(): number {
    const now = this.#clock();
    let closed = 0;
    for (const session of [...this.sessions]) {
      if (session.checkIdle(now, this.#resumedAt)) closed++;
    }
    return closed;
  }

  /** Tells every session open to `upstream` that it is gone, and closes them. Returns how many. */
  upstreamGone(upstream: string, message: string): number {
    let told = 0;
    for (const session of this.sessions) {
      if (session.upstream !== upstream) continue;
      session.upstreamGone(message);
      told++;
    }
    return told;
  }

  /** Stops accepting, tells every session, waits up to `drainMs` for them to end, then closes. */
  async stop(drainMs = 2_000): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    clearInterval(this.#idleSweep);
    clearInterval(this.#refusalSummary);
    await this.#certificates?.stop();
    this.identity?.stop();
    this.#audit.flush();
    for (const { server } of this.#servers) {
      try {
        libraryHttp2Server(server).close();
      } catch {
        // HTTP/3 server: stopped below.
      }
    }
    for (const session of this.sessions) session.shutdown();
    const deadline = Date.now() + drainMs;
    while (this.sessions.size > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    for (const session of this.sessions) session.close("shutdown");
    for (const socket of this.#sockets) socket.destroy();
    for (const { server } of this.#servers) {
      try {
        server.stopServer();
      } catch {
        // Already stopped.
      }
    }
    // Both are plain node:http servers, closed alike.
    for (const server of [this.#localHttp, this.#ops]) if (server) await closeOpsServer(server);
  }
}
