/**
 * One client session: control stream (hello → welcome/error, stats), and the two datagram
 * directions between the WebTransport session and a UDP socket of its own toward the upstream.
 * WireGuard messages larger than the session's datagrams take the message stream, a reliable
 * stream the client opens after the welcome (see @wiregate/session's message-stream.ts).
 */

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { checkShape } from "@wiregate/core";
import {
  type ControlFrame,
  type ErrorCode,
  encodeFrame,
  type HelloFrame,
  type StatsFrame,
  type Transport,
} from "@wiregate/session";
import { bufferedTowardClient } from "./client-backlog.js";
import type { Limits, UpstreamEntry } from "./config.js";
import { ControlReader } from "./control-reader.js";
import type { Logger } from "./logger.js";
import { MessageLane } from "./message-lane.js";
import type { Direction, RelayCounters } from "./metrics.js";
import { PacedQueue } from "./paced-queue.js";

type ByteStream = { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };

/** What the relay uses of the library's server-side session. */
export interface ServerSessionLike {
  ready: Promise<unknown>;
  closed: Promise<unknown>;
  header?: Record<string, unknown>;
  peerAddress?: string;
  datagrams: {
    readable: ReadableStream<Uint8Array>;
    createWritable(): WritableStream<Uint8Array>;
    maxDatagramSize: number;
  };
  incomingBidirectionalStreams: ReadableStream<ByteStream>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

/** Records forwarded WireGuard messages (the pcapng capture). */
export interface CaptureSink {
  record(event: {
    sessionIndex: number;
    direction: Direction;
    upstream: { address: string; port: number };
    datagram: Uint8Array;
    timeMs: number;
  }): void;
}

export interface SessionContext {
  id: string;
  index: number;
  transport: Transport;
  clientAddress: string;
  limits: Limits;
  counters: RelayCounters;
  logger: Logger;
  capture: CaptureSink | undefined;
  /** Monotonic milliseconds for idleness (the relay's clock; virtual in tests). */
  now(): number;
  /** Decides whether the hello may open a session: an error to send, or the upstream to use. */
  admit(hello: HelloFrame): { code: ErrorCode; message: string } | UpstreamEntry;
  /** The welcome went out: the session leaves the pre-authentication budget. */
  onOpen?(session: RelaySession): void;
  onClosed(session: RelaySession): void;
  /** Counts and (rate-limited) logs a refusal: a flood of them must not flood the log. */
  refused(code: ErrorCode, message: string): void;
}

const ERROR_FRAMES_PER_SECOND = 10;

/** One shared rejection handler instead of a new closure per datagram. */
const ignore = (): void => {};

/** The transport a session really uses: the header tells WebSocket apart; HTTP/2 vs 3 is the server. */
export function transportOf(
  header: Record<string, unknown> | undefined,
  server: "http2" | "http3",
): Transport {
  if (header) {
    if (header[":protocol"] === "websocket") return "websocket";
    if (header["sec-websocket-protocol"] !== undefined) return "websocket";
    if (String(header.upgrade ?? "").toLowerCase() === "websocket") return "websocket";
  }
  return server;
}

/** One deadline for everything before the hello: a slow client gets no fresh timer per step. */
function deadline(ms: number): { expired: Promise<"timeout">; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return { expired, cancel: () => clearTimeout(timer) };
}

export class RelaySession {
  readonly stats = {
    toUpstream: { datagrams: 0, bytes: 0 },
    toClient: { datagrams: 0, bytes: 0 },
    drops: {} as Record<string, number>,
  };
  state: "hello" | "open" | "closed" = "hello";

  /** A method, not a field read, so checks after an await are not narrowed away. */
  isClosed(): boolean {
    return this.state === "closed";
  }
  upstream: UpstreamEntry | undefined;
  /** Largest WireGuard message sent as one datagram of this session. */
  datagramSize = 0;
  /** Largest WireGuard message carried at all (larger than datagramSize: on the message stream). */
  messageSize = 0;

  #udp: UdpSocket | undefined;
  #upstreamAddress = "";
  #toUpstream: PacedQueue | undefined;
  #toClient: PacedQueue | undefined;
  #datagramWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #controlWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #lane: MessageLane | undefined;
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
    const hello = deadline(this.ctx.limits.helloTimeoutMs);
    let admitted: Awaited<ReturnType<RelaySession["untilHello"]>>;
    try {
      admitted = await this.untilHello(hello.expired);
    } finally {
      hello.cancel();
    }
    if (!admitted) return;
    await this.#open(admitted.upstream);
    if (this.state !== "open") return;

    // Control loop: stats requests until the client goes away.
    for (;;) {
      let frame: ControlFrame | string;
      try {
        frame = await admitted.next();
      } catch {
        frame = "control stream reset";
      }
      if (this.isClosed()) return;
      if (typeof frame === "string")
        return this.close(frame === "control stream ended" ? "client-closed" : frame);
      if (frame.type === "stats-request") this.#sendControl(this.statsFrame());
    }
  }

  /** Reads the hello within the deadline; the admitted upstream and the control reader, or nothing. */
  private async untilHello(
    expired: Promise<"timeout">,
  ): Promise<{ upstream: UpstreamEntry; next: () => Promise<ControlFrame | string> } | undefined> {
    const withTimeout = <T>(promise: Promise<T>) => Promise.race([promise, expired]);
    const ready = await withTimeout(this.wt.ready);
    if (ready === "timeout" || this.isClosed()) {
      this.close("no-ready");
      return undefined;
    }

    const streams = this.wt.incomingBidirectionalStreams.getReader();
    const first = await withTimeout(streams.read());
    streams.releaseLock();
    if (first === "timeout" || first.done || this.isClosed()) {
      this.close("no-control-stream");
      return undefined;
    }
    const control = first.value;
    this.#controlWriter = control.writable.getWriter();
    const frames = new ControlReader(control.readable.getReader());
    const readFrame = () => frames.next();

    const hello = await withTimeout(readFrame());
    if (hello === "timeout") {
      this.refuse("bad-hello", "no hello in time");
      return undefined;
    }
    if (typeof hello === "string" || hello.type !== "hello") {
      this.refuse(
        "bad-hello",
        typeof hello === "string" ? hello : `expected hello, got ${hello.type}`,
      );
      return undefined;
    }
    const admitted = this.ctx.admit(hello);
    if ("code" in admitted) {
      this.refuse(admitted.code, admitted.message);
      return undefined;
    }
    return { upstream: admitted, next: readFrame };
  }

  async #open(upstream: UpstreamEntry): Promise<void> {
    this.upstream = upstream;
    let address = upstream.host;
    if (isIP(address) === 0) {
      try {
        address = (await lookup(upstream.host)).address;
      } catch {
        return this.refuse("upstream-unreachable", `cannot resolve upstream ${upstream.name}`);
      }
    }
    this.#upstreamAddress = address;
    const udp = createSocket({ type: isIP(address) === 6 ? "udp6" : "udp4" });
    this.#udp = udp;
    udp.on("error", (error) => this.#log.debug("upstream socket error", { error: error.message }));
    udp.on("message", (datagram, from) => this.#fromUpstream(datagram, from.address, from.port));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(0, isIP(address) === 6 ? "::" : "0.0.0.0", () => {
          udp.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      return this.refuse("internal", `cannot open a UDP socket: ${(error as Error).message}`);
    }
    if (this.isClosed()) return this.close("client-closed");

    const { limits } = this.ctx;
    const transportMax = this.wt.datagrams.maxDatagramSize;
    this.messageSize = limits.maxDatagramSize;
    this.datagramSize = Math.min(this.messageSize, transportMax > 0 ? transportMax : Infinity);
    this.#datagramWriter = this.wt.datagrams.createWritable().getWriter();
    const queueOptions = {
      datagramsPerSecond: limits.datagramsPerSecond,
      bytesPerSecond: limits.bytesPerSecond,
      capacity: limits.queueLength,
    };
    this.#toUpstream = new PacedQueue({
      ...queueOptions,
      send: (d) => this.#sendUpstream(d),
      onDrop: (_, reason) => this.#drop("to_upstream", reason),
    });
    this.#toClient = new PacedQueue({
      ...queueOptions,
      send: (d) => this.#sendClient(d),
      onDrop: (_, reason) => this.#drop("to_client", reason),
    });
    this.state = "open";
    this.ctx.counters.sessionOpened(this.ctx.transport);
    this.#sendControl({
      type: "welcome",
      sessionId: this.ctx.id,
      transport: this.ctx.transport,
      datagramSize: this.datagramSize,
      ...(this.messageSize > this.datagramSize ? { messageSize: this.messageSize } : {}),
      ...(upstream.publicKey ? { upstreamPublicKey: upstream.publicKey } : {}),
    });
    this.ctx.onOpen?.(this);
    this.#log.info("session open", {
      client: this.ctx.clientAddress,
      transport: this.ctx.transport,
      upstream: upstream.name,
      datagramSize: this.datagramSize,
      messageSize: this.messageSize,
    });
    if (this.messageSize > this.datagramSize) {
      this.#lane = new MessageLane(this.messageSize, {
        message: (message) => this.#fromClient(message, this.messageSize),
        oversized: (length) => this.#oversizedFromClient(length, this.messageSize),
        extraStream: () => this.#drop("to_upstream", "extra-stream"),
      });
      void this.#lane.accept(this.wt.incomingBidirectionalStreams);
    }
  }

  async #pumpFromClient(): Promise<void> {
    const reader = this.wt.datagrams.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.isClosed()) break;
        if (!value) continue;
        if (this.state === "open") this.#fromClient(value);
        else this.#drop("to_upstream", "before-welcome");
      }
    } catch {
      // The session ended; close() below handles it.
    }
    this.close("client-closed");
  }

  #oversizedFromClient(length: number, limit: number): void {
    this.#drop("to_upstream", "oversized");
    this.#sendError("oversized", `message of ${length} bytes exceeds ${limit}`, limit);
  }

  /** One WireGuard message from the client: a datagram, or one read from the message stream. */
  #fromClient(datagram: Uint8Array, limit = this.datagramSize): void {
    this.#lastActive = this.ctx.now();
    if (datagram.length > limit) {
      this.#oversizedFromClient(datagram.length, limit);
      return;
    }
    const type = checkShape(datagram);
    if (typeof type !== "number") {
      this.#drop("to_upstream", "malformed");
      return;
    }
    this.ctx.counters.messages.to_upstream[type - 1]!++;
    this.#toUpstream!.push(datagram);
  }

  #fromUpstream(datagram: Buffer, address: string, port: number): void {
    if (this.state !== "open") return;
    if (port !== this.upstream!.port || address !== this.#upstreamAddress) {
      this.#drop("to_client", "foreign-source");
      return;
    }
    if (datagram.length > this.messageSize) {
      this.#drop("to_client", "oversized");
      return;
    }
    const type = checkShape(datagram);
    if (typeof type !== "number") {
      this.#drop("to_client", "malformed");
      return;
    }
    this.ctx.counters.messages.to_client[type - 1]!++;
    this.#toClient!.push(datagram);
  }

  /**
   * Closes the session when nothing moved for `limits.idleTimeoutMs`; returns whether it did.
   * Called by the relay's one sweep for all sessions (a timer per session cost memory and
   * timer-list work). The session leaves the relay's table at once; its transport closes a moment
   * later so the idle frame can leave first.
   */
  checkIdle(now: number): boolean {
    if (this.state !== "open") return false;
    if (this.#closingIdle || now - this.#lastActive <= this.ctx.limits.idleTimeoutMs) return false;
    this.#closingIdle = true;
    this.#sendControl({ type: "error", code: "idle", message: "session idle" });
    this.ctx.onClosed(this);
    setTimeout(() => this.close("idle"), 50).unref();
    return true;
  }

  #sendUpstream(datagram: Uint8Array): void {
    if (!this.#udp) return;
    this.#udp.send(datagram, this.upstream!.port, this.#upstreamAddress);
    this.stats.toUpstream.datagrams++;
    this.stats.toUpstream.bytes += datagram.length;
    this.ctx.counters.datagrams.to_upstream++;
    this.ctx.counters.bytes.to_upstream += datagram.length;
    this.#capture("to_upstream", datagram);
  }

  #sendClient(datagram: Uint8Array): void {
    if (!this.#datagramWriter) return;
    const backlog = bufferedTowardClient(this.wt, this.datagramSize);
    if (backlog + datagram.length > this.ctx.limits.clientBufferBytes) {
      // The client does not read: drop, and do not count it as activity (it may idle out).
      this.#drop("to_client", "client-backlog");
      return;
    }
    if (datagram.length <= this.datagramSize) this.#datagramWriter.write(datagram).catch(ignore);
    else if (!this.#sendOnMessageStream(datagram)) return;
    this.#lastActive = this.ctx.now();
    this.stats.toClient.datagrams++;
    this.stats.toClient.bytes += datagram.length;
    this.ctx.counters.datagrams.to_client++;
    this.ctx.counters.bytes.to_client += datagram.length;
    this.#capture("to_client", datagram);
  }

  /** A message too large for a datagram; false (counted, reported) when it cannot go. */
  #sendOnMessageStream(message: Uint8Array): boolean {
    const outcome = this.#lane?.send(message) ?? "no-message-stream";
    if (outcome === "sent") return true;
    this.#drop("to_client", outcome);
    if (outcome === "no-message-stream") {
      this.#sendError(
        "oversized",
        `message of ${message.length} bytes from the upstream exceeds ${this.datagramSize} and no message stream is open`,
        this.datagramSize,
      );
    }
    return false;
  }

  #capture(direction: Direction, datagram: Uint8Array): void {
    this.ctx.capture?.record({
      sessionIndex: this.ctx.index,
      direction,
      upstream: { address: this.#upstreamAddress, port: this.upstream!.port },
      datagram,
      timeMs: Date.now(),
    });
  }

  #drop(direction: Direction, reason: string): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
    this.ctx.counters.drop(direction, reason);
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
    this.#controlWriter?.write(encodeFrame(frame)).catch(() => {});
  }

  statsFrame(): StatsFrame {
    return {
      type: "stats",
      toUpstream: { ...this.stats.toUpstream },
      toClient: { ...this.stats.toClient },
      drops: { ...this.stats.drops },
    };
  }

  /** Tells the client why, then closes once the frame had a moment to leave. */
  refuse(code: ErrorCode, message: string): void {
    if (this.state === "closed") return;
    this.ctx.refused(code, message);
    this.#sendControl({ type: "error", code, message });
    const writer = this.#controlWriter;
    this.#controlWriter = undefined;
    void writer?.close().catch(() => {});
    setTimeout(() => this.close(code), 100).unref();
  }

  /** Frees the socket, the queues and the timers; idempotent. */
  close(reason: string): void {
    if (this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.state = "closed";
    this.#toUpstream?.close();
    this.#toClient?.close();
    this.#udp?.close();
    this.#udp = undefined;
    this.#lane?.close();
    try {
      this.wt.close({ closeCode: 0, reason: reason.slice(0, 100) });
    } catch {
      // Already closed by the peer.
    }
    if (wasOpen) {
      this.ctx.counters.sessionClosed(this.ctx.transport);
      this.#log.info("session closed", { reason, ...this.statsFrame(), type: undefined });
    }
    this.ctx.onClosed(this);
  }

  /** For graceful shutdown: say why, then close. */
  shutdown(): void {
    this.#sendControl({ type: "error", code: "shutdown", message: "relay shutting down" });
    setTimeout(() => this.close("shutdown"), 50).unref();
  }
}
