/**
 * One client session: its lifecycle (hello, open, closed), the control stream once open (welcome,
 * stats, errors), idleness and the ways it ends. The hello phase is hello-phase.ts; the datagram
 * directions between the WebTransport session and its upstream socket are forwarder.ts.
 * WireGuard messages larger than the session's datagrams take the message stream, a reliable
 * stream the client opens after the welcome (see @wiregate/relay-protocol's message-stream.ts);
 * with the stream carriage (carriage.ts) every message does.
 */

import { randomBytes, timingSafeEqual } from "node:crypto";
import {
  type ControlFrame,
  type ErrorCode,
  encodeFrame,
  GOING_AWAY,
  type RelayTransport,
  type StatsFrame,
} from "@wiregate/relay-protocol";
import { chooseCarriage } from "./carriage.js";
import { Forwarder, type ForwarderHost } from "./forwarder.js";
import { awaitHello, type HelloAdmitted } from "./hello-phase.js";
import type { Logger } from "./logger.js";
import type { Direction } from "./metrics.js";
import type { ServerSessionLike, SessionEnv, SessionStats } from "./session-types.js";
import type { UdpDrops } from "./socket-drops.js";
import { TransportLossReader, withDeadline } from "./transport-losses.js";

/** A session's surroundings, with the relay's hooks for its lifecycle. */
export interface SessionContext extends SessionEnv {
  /** The welcome went out: the session leaves the pre-authentication budget. */
  onOpen?(session: RelaySession): void;
  onClosed(session: RelaySession): void;
}

const ERROR_FRAMES_PER_SECOND = 10;

/** How long a stats answer waits for the transport's counters. */
const TRANSPORT_STATS_MS = 1_000;

/** How the client closed its transport, as the relay logs it (`closeCode`, `closeReason`). */
export interface ClientClose {
  closeCode: number;
  closeReason: string;
  /** Set when the close came by beacon (close-beacon.ts), not on the transport. */
  closeVia?: "beacon";
}

/**
 * The client's close code and reason if the transport is closed already (the client closed it),
 * else undefined. `Promise.race` settles with the first of its promises already settled, in
 * order: `closed` when the library resolved it before this call, the `undefined` otherwise.
 */
export async function clientCloseOf(closed: Promise<unknown>): Promise<ClientClose | undefined> {
  let info: unknown;
  try {
    info = await Promise.race([closed, undefined]);
  } catch {
    return undefined;
  }
  if (!info || typeof info !== "object") return undefined;
  const { closeCode, reason } = info as { closeCode?: unknown; reason?: unknown };
  return {
    closeCode: typeof closeCode === "number" ? closeCode : 0,
    closeReason: typeof reason === "string" ? reason.slice(0, 200) : "",
  };
}

/** The transport a session really uses: the header tells WebSocket apart; HTTP/2 vs 3 is the server. */
export function transportOf(
  header: Record<string, unknown> | undefined,
  server: "http2" | "http3",
): RelayTransport {
  if (header) {
    if (header[":protocol"] === "websocket") return "websocket";
    if (header["sec-websocket-protocol"] !== undefined) return "websocket";
    if (String(header.upgrade ?? "").toLowerCase() === "websocket") return "websocket";
  }
  return server;
}

/**
 * Where a session is: waiting for its hello, open (and then it owns a forwarder: socket, queues,
 * writers), or closed. Only the open state holds resources, so nothing reaches them in another.
 */
export type SessionState =
  | { kind: "hello" }
  | { kind: "open"; forwarder: Forwarder; upstream: string }
  | { kind: "closed" };

export class RelaySession {
  readonly stats: SessionStats = {
    toUpstream: { datagrams: 0, bytes: 0 },
    toClient: { datagrams: 0, bytes: 0 },
    drops: {},
  };
  #state: SessionState = { kind: "hello" };
  /** What this session's QUIC lost after the relay handed it over; feeds the relay's counters. */
  readonly transportLosses: TransportLossReader;

  /** Largest WireGuard message sent as one datagram of this session (0 until it is open). */
  get datagramSize(): number {
    return this.#state.kind === "open" ? this.#state.forwarder.datagramSize : 0;
  }

  /** Largest WireGuard message carried at all, message stream included (0 until it is open). */
  get messageSize(): number {
    return this.#state.kind === "open" ? this.#state.forwarder.messageSize : 0;
  }

  /** The upstream an open session relays to. */
  get upstream(): string | undefined {
    return this.#state.kind === "open" ? this.#state.upstream : undefined;
  }

  /** A method, not a field read, so checks after an await are not narrowed away. */
  isClosed(): boolean {
    return this.#state.kind === "closed";
  }

  /** What the client sends to close this session by beacon (close-beacon.ts); in its welcome. */
  readonly closeToken = randomBytes(16).toString("hex");
  /** How the client closed the session when it did so by beacon. */
  #beaconClose: ClientClose | undefined;
  #controlWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #controlBacklog = 0;
  #controlWaiting = false;
  #lastActive: number;
  #closingIdle = false;
  #errorBudget = ERROR_FRAMES_PER_SECOND;
  #errorBudgetAt = performance.now();
  readonly #log: Logger;

  constructor(
    readonly wt: ServerSessionLike,
    readonly ctx: SessionContext,
  ) {
    this.#log = ctx.logger.child({ session: ctx.id });
    this.#lastActive = ctx.now();
    this.transportLosses = new TransportLossReader(wt, (delta) =>
      ctx.counters.addTransportLosses(delta),
    );
  }

  /** Runs the session to its end; never throws. */
  async run(): Promise<void> {
    try {
      await this.#run();
    } catch (error) {
      this.#log.warn("session failed", { error: (error as Error)?.message ?? String(error) });
      this.close("internal");
    }
  }

  async #run(): Promise<void> {
    void this.wt.closed.then(
      () => this.close("client-closed"),
      () => this.close("client-closed"),
    );
    // Datagrams are read (and, before the welcome, discarded) from the first moment: the library
    // queues unread ones without a limit.
    void this.#pumpFromClient();
    const admitted = await awaitHello({
      wt: this.wt,
      timeoutMs: this.ctx.limits.helloTimeoutMs,
      admit: (hello) => this.ctx.admit(hello),
      isClosed: () => this.isClosed(),
      close: (reason) => this.close(reason),
      refuse: (refusal) =>
        this.refuse(refusal.code, refusal.message, refusal.reason, refusal.subject),
      controlOpened: (writer) => {
        this.#controlWriter = writer;
      },
    });
    if (!admitted) return;
    if (!(await this.#open(admitted))) return;

    // Control loop: stats requests until the client goes away.
    for (;;) {
      let frame: ControlFrame | string;
      try {
        frame = await admitted.next();
      } catch {
        frame = "control stream reset";
      }
      if (this.isClosed()) return;
      if (frame === "control stream ended") return this.close("client-closed");
      if (frame === "control stream reset") return this.close(frame);
      // A frame the relay cannot read: the client hears why before the session closes.
      if (typeof frame === "string") return this.#endWith("bad-frame", frame, frame);
      if (frame.type === "stats-request") {
        await withDeadline(this.transportLosses.read(), TRANSPORT_STATS_MS);
        this.#sendControl(this.statsFrame());
        await this.#controlTaken();
      }
    }
  }

  /** Bytes of control frames written toward the client that its transport has not taken yet. */
  get controlBacklog(): number {
    return this.#controlBacklog;
  }

  /** Whether the control loop waits for the client to take an answer before reading on. */
  get controlWaiting(): boolean {
    return this.#controlWaiting;
  }

  /**
   * Waits until the transport took what was written on the control stream. A client that keeps
   * asking without reading the answers is then read no further: its requests wait in its own
   * flow-control window instead of its answers piling up here.
   */
  async #controlTaken(): Promise<void> {
    const writer = this.#controlWriter;
    if (!writer || writer.desiredSize === null || writer.desiredSize > 0) return;
    this.#controlWaiting = true;
    try {
      await writer.ready;
    } catch {
      // The stream ended: the loop's next read says so.
    } finally {
      this.#controlWaiting = false;
    }
  }

  /** Opens the way to the upstream and sends the welcome; whether the session is now open. */
  async #open({ upstream, addresses, carriage: asked, identity }: HelloAdmitted): Promise<boolean> {
    const { carriage, reason } = chooseCarriage(asked, this.ctx.transport);
    const forwarder = await Forwarder.open(this.wt, this.#forwarderHost(), upstream, carriage);
    if (!(forwarder instanceof Forwarder)) {
      this.refuse(forwarder.code, forwarder.message);
      return false;
    }
    if (this.isClosed()) {
      forwarder.close();
      return false;
    }
    this.#state = { kind: "open", forwarder, upstream: upstream.name };
    this.ctx.counters.sessionOpened(this.ctx.transport);
    const { datagramSize, messageSize } = forwarder;
    this.#sendControl({
      type: "welcome",
      sessionId: this.ctx.id,
      transport: this.ctx.transport,
      datagramSize,
      ...(messageSize > datagramSize ? { messageSize } : {}),
      ...(upstream.publicKey ? { upstreamPublicKey: upstream.publicKey } : {}),
      ...(addresses ? { addresses } : {}),
      carriage,
      carriageReason: reason,
      idleTimeoutMs: this.ctx.limits.idleTimeoutMs,
      closeToken: this.closeToken,
    });
    this.ctx.onOpen?.(this);
    this.#log.info("session open", {
      client: this.ctx.clientAddress,
      transport: this.ctx.transport,
      upstream: upstream.name,
      ...(identity ? { subject: identity.subject, policy: identity.label } : {}),
      datagramSize,
      messageSize,
      carriage,
    });
    forwarder.acceptMessageStream();
    return true;
  }

  /** What the forwarder may do to its session. */
  #forwarderHost(): ForwarderHost {
    return {
      ctx: this.ctx,
      stats: this.stats,
      drop: (direction, reason, count) => this.#drop(direction, reason, count),
      sendError: (code, message, limit) => this.#sendError(code, message, limit),
      touch: () => {
        this.#lastActive = this.ctx.now();
      },
    };
  }

  async #pumpFromClient(): Promise<void> {
    const reader = this.wt.datagrams.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        const state = this.#state;
        if (done || state.kind === "closed") break;
        if (!value) continue;
        if (state.kind === "open") state.forwarder.fromClient(value);
        else this.#drop("to_upstream", "before-welcome");
      }
    } catch {
      // The session ended; close() below handles it.
    }
    this.close("client-closed");
  }

  /**
   * Closes the session when nothing moved for `limits.idleTimeoutMs`; returns whether it did.
   * Called by the relay's one sweep for all sessions (a timer per session cost memory and
   * timer-list work). The session leaves the relay's table at once; its transport closes a moment
   * later so the idle frame can leave first.
   */
  checkIdle(now: number, resumedAt = Number.NEGATIVE_INFINITY): boolean {
    if (this.#state.kind !== "open") return false;
    // Silence while the relay itself did not run (before `resumedAt`) does not count.
    const since = Math.max(this.#lastActive, resumedAt);
    if (this.#closingIdle || now - since <= this.ctx.limits.idleTimeoutMs) return false;
    this.#closingIdle = true;
    // The last reading of the transport's losses, before the client hears of the end: a client
    // that closes first takes them with it (transport-losses.ts).
    void this.transportLosses.read();
    this.#sendControl({ type: "error", code: "idle", message: "session idle" });
    this.ctx.onClosed(this);
    setTimeout(() => this.close("idle"), 50).unref();
    return true;
  }

  #drop(direction: Direction, reason: string, count = 1): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + count;
    this.ctx.counters.drop(direction, reason, count);
  }

  /** Counts what the kernel dropped on the upstream socket since the last reading. */
  countSocketDrops(table: UdpDrops): void {
    if (this.#state.kind === "open") this.#state.forwarder.countSocketDrops(table);
  }

  /** Non-fatal errors are rate-limited; every occurrence is still counted in the drops. */
  #sendError(code: ErrorCode, message: string, limit?: number): void {
    const now = performance.now();
    this.#errorBudget = Math.min(
      ERROR_FRAMES_PER_SECOND,
      this.#errorBudget + ((now - this.#errorBudgetAt) / 1000) * ERROR_FRAMES_PER_SECOND,
    );
    this.#errorBudgetAt = now;
    if (this.#errorBudget < 1) return;
    this.#errorBudget--;
    this.#sendControl({ type: "error", code, message, ...(limit !== undefined ? { limit } : {}) });
  }

  #sendControl(frame: ControlFrame): void {
    const writer = this.#controlWriter;
    if (!writer) return;
    const bytes = encodeFrame(frame);
    this.#controlBacklog += bytes.length;
    const taken = () => {
      this.#controlBacklog -= bytes.length;
    };
    writer.write(bytes).then(taken, taken);
  }

  statsFrame(): StatsFrame {
    return {
      type: "stats",
      toUpstream: { ...this.stats.toUpstream },
      toClient: { ...this.stats.toClient },
      drops: { ...this.stats.drops },
      transportLosses: this.transportLosses.latest,
    };
  }

  /** Tells the client why, then closes once the frame had a moment to leave. */
  refuse(code: ErrorCode, message: string, reason?: string, subject?: string): void {
    if (this.isClosed()) return;
    this.ctx.refused({
      code,
      message,
      ...(reason !== undefined ? { reason } : {}),
      ...(subject !== undefined ? { subject } : {}),
    });
    this.#sendControl({ type: "error", code, message });
    const writer = this.#controlWriter;
    this.#controlWriter = undefined;
    void writer?.close().catch(() => {});
    setTimeout(() => this.close(code), 100).unref();
  }

  /** Frees the socket, the queues and the timers; idempotent. */
  close(reason: string): void {
    const was = this.#state;
    if (was.kind === "closed") return;
    // The client that hears `idle` may close first: the session still ended for idleness.
    if (this.#closingIdle) reason = "idle";
    this.#state = { kind: "closed" };
    if (was.kind === "open") {
      was.forwarder.close();
      void this.transportLosses.read();
    }
    // Taken before the relay's own close below, which would settle `closed` with its own code.
    const clientClose = this.#beaconClose
      ? Promise.resolve(this.#beaconClose)
      : clientCloseOf(this.wt.closed);
    try {
      this.wt.close({ closeCode: 0, reason: reason.slice(0, 100) });
    } catch {
      // Already closed by the peer.
    }
    if (was.kind === "open") {
      this.ctx.counters.sessionClosed(this.ctx.transport);
      // Transport losses as last read: an idle or shutdown close read them just before.
      const log = (client?: ClientClose) =>
        this.#log.info("session closed", {
          reason,
          ...(client ?? {}),
          ...this.statsFrame(),
          type: undefined,
        });
      // With the client's own code and reason when it closed the transport first (a page that
      // went away says so), told apart from a vanished client's (code 0, no reason).
      void clientClose.then(log);
    }
    this.ctx.onClosed(this);
  }

  /**
   * The client's page went away and said so by beacon (close-beacon.ts) with `token`: the session
   * ends as closed by its client with `GOING_AWAY`. Whether the token was this session's.
   */
  closeByBeacon(token: string): boolean {
    if (this.#state.kind !== "open") return false;
    const given = Buffer.from(token);
    const own = Buffer.from(this.closeToken);
    if (given.length !== own.length || !timingSafeEqual(given, own)) return false;
    this.#beaconClose = {
      closeCode: GOING_AWAY.closeCode,
      closeReason: GOING_AWAY.reason,
      closeVia: "beacon",
    };
    this.close("client-closed");
    return true;
  }

  /** For graceful shutdown: say why, then close. */
  shutdown(): void {
    this.#endWith("shutdown", "relay shutting down", "shutdown");
  }

  /** Its upstream went away (the demo peer's thread died): say so, retryable, then close. */
  upstreamGone(message: string): void {
    this.#endWith("upstream-unreachable", message, "upstream-gone");
  }

  /** Its token expired or was revoked (identity/identity.ts): say so, then close. */
  endForIdentity(code: "token-expired" | "unauthorized", message: string, reason: string): void {
    if (this.isClosed()) return;
    this.#endWith(code, message, reason);
  }

  #endWith(
    code: "shutdown" | "upstream-unreachable" | "bad-frame" | "token-expired" | "unauthorized",
    message: string,
    reason: string,
  ): void {
    if (this.#state.kind === "open") void this.transportLosses.read(); // As in checkIdle.
    this.#sendControl({ type: "error", code, message });
    setTimeout(() => this.close(reason), 50).unref();
  }
}
