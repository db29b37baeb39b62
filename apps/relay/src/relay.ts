/**
 * The relay: accepts WebTransport sessions (HTTP/2 + WebSocket always, HTTP/3 when the quiche add-on
 * loads), enforces admission limits, and hands each session to a RelaySession.
 */

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Http2Server, Http3Server } from "@fails-components/webtransport";
import type { ErrorCode, HelloFrame } from "@wiregate/session";
import { PROTOCOL_VERSION } from "@wiregate/session";
import type { Registry } from "prom-client";
import { peerAddressGroup } from "./address-group.js";
import { isLoopback, isLoopbackAddress, type RelayConfig, type UpstreamEntry } from "./config.js";
import { guardConnections } from "./connection-guard.js";
import { type CertificateMaterial, ensureDevCertificate, loadCertificate } from "./dev-cert.js";
import { KeyedBudget } from "./keyed-budget.js";
import { type Logger, silentLogger } from "./logger.js";
import { createMetrics, RelayCounters } from "./metrics.js";
import { type OriginPolicy, originRefusal, ownOrigins } from "./origin-check.js";
import { RefusalAudit } from "./refusal-audit.js";
import { type CaptureSink, RelaySession, type ServerSessionLike, transportOf } from "./session.js";
import { attachTlsPort, libraryHttp2Server } from "./tls-port.js";
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
}

/** How often refusals that were not logged are summed up in one line. */
const REFUSAL_SUMMARY_MS = 1_000;

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

const HTTP3_ADDON = "@fails-components/webtransport-transport-http3-quiche";

/** Loads the optional quiche add-on; the reason it is unusable, or undefined when it loaded. */
async function loadHttp3Addon(): Promise<string | undefined> {
  try {
    await import(HTTP3_ADDON);
    return undefined;
  } catch (error) {
    return `${HTTP3_ADDON} is not installed or does not load (${(error as Error).message.split("\n")[0]})`;
  }
}

export class Relay {
  readonly upstreams: UpstreamRegistry;
  readonly counters = new RelayCounters();
  readonly metrics: Registry;
  readonly sessions = new Set<RelaySession>();
  readonly #config: RelayConfig;
  readonly #log: Logger;
  readonly #capture: CaptureSink | undefined;
  readonly #clock: () => number;
  readonly #tokenDigests: Buffer[];
  /** Sessions before their hello, and admitted ones: separate budgets, per address and total. */
  readonly #pending: KeyedBudget;
  readonly #admitted: KeyedBudget;
  readonly #audit: RefusalAudit;
  readonly #rss: () => number;
  readonly #sockets = new Set<TLSSocket>();
  #servers: { kind: "http2" | "http3"; server: Http2Server | Http3Server }[] = [];
  #ops: HttpServer | undefined;
  #draining = false;
  #http3Missing: string | undefined;
  /** Origins let in: configured ones, and the relay's own names at its port (see `start`). */
  #origins: OriginPolicy;
  #sessionIndex = 0;
  #idleSweep: ReturnType<typeof setInterval> | undefined;
  #refusalSummary: ReturnType<typeof setInterval> | undefined;
  certificate: CertificateMaterial | undefined;

  /** JSON documents served on the TLS port at exact paths (see `publish`). */
  readonly #published = new Map<string, string>();

  constructor(options: RelayOptions) {
    this.#config = options.config;
    this.#log = options.logger ?? silentLogger;
    this.#capture = options.capture;
    this.#clock = options.clock ?? (() => performance.now());
    this.#rss = options.rss ?? (() => process.memoryUsage.rss());
    this.#audit = new RefusalAudit(this.#log, this.counters);
    this.#origins = options.config;
    this.upstreams = options.upstreams ?? new UpstreamRegistry(options.config.upstreams);
    if (options.upstreams)
      for (const entry of options.config.upstreams) this.upstreams.register(entry);
    this.#tokenDigests = options.config.tokens.map(digest);
    this.metrics = createMetrics(this.counters, () => this.transports);
    const limits = options.config.limits;
    this.#pending = new KeyedBudget({
      total: limits.maxPendingSessions,
      perKey: limits.maxPendingPerAddress,
    });
    this.#admitted = new KeyedBudget({
      total: limits.maxSessions,
      perKey: limits.maxSessionsPerAddress,
    });
  }

  get openMode(): boolean {
    return this.#tokenDigests.length === 0;
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
    this.certificate =
      config.certFile && config.keyFile
        ? await loadCertificate(config.certFile, config.keyFile)
        : await ensureDevCertificate(config.certDir, names);
    const tls = { cert: this.certificate.certPem, privKey: this.certificate.keyPem };
    const secret = randomBytes(32).toString("hex");

    const http2 = new Http2Server({ port: config.port, host: config.host, secret, ...tls });
    // Create the library's node server now so it can be hooked before it accepts anything.
    await (http2 as unknown as { createTransportInt(): Promise<void> }).createTransportInt();
    attachTlsPort(
      libraryHttp2Server(http2),
      { root: config.staticDir, generated: this.#published },
      (socket) => {
        this.#sockets.add(socket);
        socket.once("close", () => this.#sockets.delete(socket));
      },
    );
    guardConnections(libraryHttp2Server(http2), config.limits, this.#audit);
    http2.startServer();
    await http2.ready;
    const port = http2.address()?.port ?? config.port;
    // A page served under one of the names the certificate covers may connect under another.
    this.#origins = {
      requireOrigin: config.requireOrigin,
      allowedOrigins: [...config.allowedOrigins, ...ownOrigins(names, port)],
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

    this.#http3Missing = config.http3
      ? await this.#startHttp3(port, { host: config.host, secret, ...tls })
      : "disabled by configuration (--no-http3)";
    if (this.#http3Missing)
      this.#log.warn("HTTP/3 is off: serving HTTP/2 and WebSocket only", {
        reason: this.#http3Missing,
      });
    for (const { kind, server } of this.#servers) void this.#accept(kind, server);
    const idleCheck = Math.max(50, Math.min(5_000, config.limits.idleTimeoutMs / 4));
    this.#idleSweep = setInterval(() => this.sweepIdle(), idleCheck);
    this.#idleSweep.unref();
    this.#refusalSummary = setInterval(() => this.#audit.flush(), REFUSAL_SUMMARY_MS);
    this.#refusalSummary.unref();

    let opsPort: number | null = null;
    if (config.opsPort !== null) {
      this.#ops = createServer((req, res) => void this.#serveOps(req.url ?? "/", res));
      await new Promise<void>((resolve, reject) => {
        this.#ops!.once("error", reject);
        this.#ops!.listen(config.opsPort!, config.opsHost, () => resolve());
      });
      const ops = this.#ops.address() as AddressInfo;
      if (!config.opsPublic && !isLoopbackAddress(ops.address)) {
        await this.stop(0);
        throw new Error(
          `relay: the ops listener (${config.opsHost}) is bound to ${ops.address}, not loopback; set opsPublic to allow it`,
        );
      }
      opsPort = ops.port;
    }
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    return {
      host: config.host,
      port,
      url: `https://${host}:${port}${config.path}`,
      certificateSha256: this.certificate.sha256,
      opsPort,
      transports: this.transports,
      ...(this.#http3Missing ? { http3Missing: this.#http3Missing } : {}),
    };
  }

  /** The transports being served, HTTP/2 first. */
  get transports(): ("http2" | "http3")[] {
    return this.#servers.map((s) => s.kind);
  }

  /** HTTP/3 on UDP at the HTTP/2 port number; the reason when it cannot run. */
  async #startHttp3(
    port: number,
    options: { host: string; secret: string; cert: string; privKey: string },
  ): Promise<string | undefined> {
    const missing = await loadHttp3Addon();
    if (missing) return missing;
    try {
      const http3 = new Http3Server({ port, ...options });
      http3.startServer();
      // A server that cannot bind never settles `ready`: give up after a moment.
      const ok = await Promise.race([
        http3.ready.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000).unref()),
      ]);
      if (!ok) {
        try {
          http3.stopServer();
        } catch {}
        return `HTTP/3 server did not start on UDP port ${port}`;
      }
      this.#servers.push({ kind: "http3", server: http3 });
      return undefined;
    } catch (error) {
      return `HTTP/3 server failed: ${(error as Error).message}`;
    }
  }

  async #serveOps(url: string, res: import("node:http").ServerResponse): Promise<void> {
    if (url === "/metrics") {
      const body = await this.metrics.metrics();
      res.writeHead(200, { "content-type": this.metrics.contentType }).end(body);
    } else if (url === "/healthz") {
      const status = this.#draining ? 503 : 200;
      res.writeHead(status, { "content-type": "application/json" }).end(
        JSON.stringify({
          status: this.#draining ? "draining" : "ok",
          sessions: this.sessions.size,
          transports: this.transports,
          ...(this.#http3Missing ? { http3Missing: this.#http3Missing } : {}),
        }),
      );
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
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
      this.#handle(next.value as ServerSessionLike, kind);
    }
  }

  #handle(wt: ServerSessionLike, kind: "http2" | "http3"): void {
    const limits = this.#config.limits;
    const clientAddress = peerAddressGroup(wt.peerAddress);
    const refusal = this.#refusalBeforeHello(wt.header, clientAddress);
    if (refusal) {
      this.#audit.refuse(refusal.reason, { client: clientAddress, why: refusal.why });
      try {
        wt.close({ closeCode: refusal.closeCode, reason: refusal.why });
      } catch {}
      return;
    }
    this.#pending.tryTake(clientAddress);
    let holds: KeyedBudget | undefined = this.#pending;
    const index = ++this.#sessionIndex;
    const session = new RelaySession(wt, {
      id: randomBytes(8).toString("hex"),
      index,
      transport: transportOf(wt.header, kind),
      clientAddress,
      limits,
      counters: this.counters,
      logger: this.#log,
      capture: this.#capture,
      now: this.#clock,
      admit: (hello) => {
        const decision = this.#admit(hello, clientAddress);
        if (!("code" in decision)) {
          // The admitted slot was checked in #admit; the pending one is given back.
          this.#pending.release(clientAddress);
          this.#admitted.tryTake(clientAddress);
          holds = this.#admitted;
        }
        return decision;
      },
      refused: (code, message) => this.#audit.refuse(code, { client: clientAddress, why: message }),
      onClosed: (closed) => {
        if (!this.sessions.delete(closed)) return;
        holds?.release(clientAddress);
        holds = undefined;
      },
    });
    this.sessions.add(session);
    void session.run();
  }

  /**
   * Refusals decided from the request alone, before anything is read: no slot is taken and
   * nothing is kept. Before authentication a session costs a pending slot only.
   */
  #refusalBeforeHello(
    header: Record<string, unknown> | undefined,
    clientAddress: string,
  ): { reason: string; why: string; closeCode: number } | undefined {
    if (this.#draining) return { reason: "limit", why: "relay is draining", closeCode: 429 };
    const origin = originRefusal(header, this.#origins);
    if (origin) return { reason: "origin", why: origin, closeCode: 403 };
    const mark = this.#config.limits.memoryMarkBytes;
    if (mark !== null && this.#rss() > mark)
      return { reason: "memory", why: "relay is shedding load (memory)", closeCode: 503 };
    const full = this.#pending.check(clientAddress);
    if (full === "per-key")
      return { reason: "limit", why: "pending sessions per address", closeCode: 429 };
    if (full === "total") return { reason: "limit", why: "pending sessions", closeCode: 429 };
    return undefined;
  }

  /**
   * Closes every session idle for longer than `limits.idleTimeoutMs` at the relay's clock; runs
   * on a timer, and may be called directly. Returns how many it closed; they have left `sessions`.
   */
  sweepIdle(): number {
    const now = this.#clock();
    let closed = 0;
    for (const session of [...this.sessions]) if (session.checkIdle(now)) closed++;
    return closed;
  }

  #admit(
    hello: HelloFrame,
    clientAddress: string,
  ): { code: ErrorCode; message: string } | UpstreamEntry {
    if (hello.version !== PROTOCOL_VERSION) {
      return { code: "version", message: `relay speaks version ${PROTOCOL_VERSION}` };
    }
    if (!this.openMode) {
      const offered = digest(hello.token ?? "");
      if (!this.#tokenDigests.some((d) => timingSafeEqual(d, offered))) {
        return { code: "unauthorized", message: "missing or wrong token" };
      }
    }
    const upstream = this.upstreams.get(hello.upstream);
    if (!upstream)
      return { code: "unknown-upstream", message: `no upstream named ${hello.upstream}` };
    const limits = this.#config.limits;
    const full = this.#admitted.check(clientAddress);
    if (full === "total")
      return { code: "limit", message: `relay has ${limits.maxSessions} sessions` };
    if (full === "per-key")
      return { code: "limit", message: `${limits.maxSessionsPerAddress} sessions per address` };
    return upstream;
  }

  /** Stops accepting, tells every session, waits up to `drainMs` for them to end, then closes. */
  async stop(drainMs = 2_000): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    clearInterval(this.#idleSweep);
    clearInterval(this.#refusalSummary);
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
    const ops = this.#ops;
    if (ops) {
      const closed = new Promise<void>((resolve) => ops.close(() => resolve()));
      ops.closeAllConnections();
      await closed;
    }
  }
}
