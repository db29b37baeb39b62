/**
 * What an open session owns: a UDP socket of its own toward the upstream, a paced queue each way,
 * the writer of the session's datagrams and, with the stream carriage or when WireGuard messages may
 * exceed a datagram, the message lane. It exists only once the hello was admitted, and is the open state's whole payload.
 */

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { checkShape } from "@wiregate/core";
import type { Carriage, ErrorCode } from "@wiregate/relay-protocol";
import { bufferedTowardClient } from "./client-backlog.js";
import type { UpstreamEntry } from "./config.js";
import { MessageLane } from "./message-lane.js";
import type { Direction } from "./metrics.js";
import { PacedQueue } from "./paced-queue.js";
import type { ServerSessionLike, SessionEnv, SessionStats } from "./session-types.js";
import { type UdpDrops, udpKey } from "./socket-drops.js";
import { sizeReceiveBuffer } from "./upstream-buffer.js";

/** What the forwarder reports back to its session. */
export interface ForwarderHost {
  readonly ctx: SessionEnv;
  readonly stats: SessionStats;
  drop(direction: Direction, reason: string, count?: number): void;
  /** A rate-limited error frame toward the client. */
  sendError(code: ErrorCode, message: string, limit?: number): void;
  /**
   * The client sent something: the session is not idle. Only the client's side counts: over HTTP/3
   * what is written toward a client that stopped reading vanishes in quiche's queue unseen, and a
   * live WireGuard client that only receives still sends a keepalive within 10 s.
   */
  touch(): void;
}

/** One shared rejection handler instead of a new closure per datagram. */
const ignore = (): void => {};

export class Forwarder {
  /** Largest WireGuard message sent as one datagram of this session. */
  readonly datagramSize: number;
  /** Largest WireGuard message carried at all (larger than datagramSize: on the message stream). */
  readonly messageSize: number;
  readonly #toUpstream: PacedQueue;
  readonly #toClient: PacedQueue;
  readonly #datagramWriter: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lane: MessageLane | undefined;
  /** What the kernel had dropped on the upstream socket at the last reading. */
  #socketDrops = 0;

  /**
   * Resolves the upstream and binds the socket; the refusal to send when either fails. The caller
   * closes the forwarder if its session ended meanwhile.
   */
  static async open(
    wt: ServerSessionLike,
    host: ForwarderHost,
    upstream: UpstreamEntry,
    carriage: Carriage,
  ): Promise<Forwarder | { code: ErrorCode; message: string }> {
    let address = upstream.host;
    if (isIP(address) === 0) {
      try {
        address = (await lookup(upstream.host)).address;
      } catch {
        return {
          code: "upstream-unreachable",
          message: `cannot resolve upstream ${upstream.name}`,
        };
      }
    }
    const udp = createSocket({ type: isIP(address) === 6 ? "udp6" : "udp4" });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(0, isIP(address) === 6 ? "::" : "0.0.0.0", () => {
          udp.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      return { code: "internal", message: `cannot open a UDP socket: ${(error as Error).message}` };
    }
    sizeReceiveBuffer(udp, host.ctx.limits.upstreamReceiveBufferBytes);
    return new Forwarder(wt, host, upstream, address, udp, carriage);
  }

  private constructor(
    readonly wt: ServerSessionLike,
    readonly host: ForwarderHost,
    readonly upstream: UpstreamEntry,
    readonly upstreamAddress: string,
    readonly udp: UdpSocket,
    /** How messages travel toward the client; the client's messages are taken either way. */
    readonly carriage: Carriage,
  ) {
    const { limits } = host.ctx;
    const transportMax = wt.datagrams.maxDatagramSize;
    this.messageSize = limits.maxDatagramSize;
    this.datagramSize = Math.min(this.messageSize, transportMax > 0 ? transportMax : Infinity);
    udp.on("error", (error) =>
      host.ctx.logger.debug("upstream socket error", { error: error.message }),
    );
    udp.on("message", (datagram, from) => this.#fromUpstream(datagram, from.address, from.port));
    this.#datagramWriter = wt.datagrams.createWritable().getWriter();
    const queueOptions = {
      datagramsPerSecond: limits.datagramsPerSecond,
      bytesPerSecond: limits.bytesPerSecond,
      capacity: limits.queueLength,
    };
    this.#toUpstream = new PacedQueue({
      ...queueOptions,
      send: (d) => this.#sendUpstream(d),
      onDrop: (_, reason) => host.drop("to_upstream", reason),
    });
    this.#toClient = new PacedQueue({
      ...queueOptions,
      send: (d) => this.#sendClient(d),
      onDrop: (_, reason) => host.drop("to_client", reason),
    });
    if (carriage === "stream" || this.messageSize > this.datagramSize) {
      this.#lane = new MessageLane(this.messageSize, {
        message: (message) => this.fromClient(message, this.messageSize, "stream"),
        oversized: (length) => this.#oversizedFromClient(length, this.messageSize),
        extraStream: () => host.drop("to_upstream", "extra-stream"),
      });
    }
  }

  /** Starts taking the message stream the client opens after the welcome (if this session has one). */
  acceptMessageStream(): void {
    if (this.#lane) void this.#lane.accept(this.wt.incomingBidirectionalStreams);
  }

  /** One WireGuard message from the client: a datagram, or one read from the message stream. */
  fromClient(datagram: Uint8Array, limit = this.datagramSize, came: Carriage = "datagrams"): void {
    this.host.touch();
    if (datagram.length > limit) {
      this.#oversizedFromClient(datagram.length, limit);
      return;
    }
    const type = checkShape(datagram);
    if (typeof type !== "number") {
      this.host.drop("to_upstream", "malformed");
      return;
    }
    const { counters } = this.host.ctx;
    counters.messages.to_upstream[type - 1]!++;
    counters.carried.to_upstream[came]++;
    this.#toUpstream.push(datagram);
  }

  #oversizedFromClient(length: number, limit: number): void {
    this.host.drop("to_upstream", "oversized");
    this.host.sendError("oversized", `message of ${length} bytes exceeds ${limit}`, limit);
  }

  #fromUpstream(datagram: Buffer, address: string, port: number): void {
    if (port !== this.upstream.port || address !== this.upstreamAddress) {
      this.host.drop("to_client", "foreign-source");
      return;
    }
    if (datagram.length > this.messageSize) {
      this.host.drop("to_client", "oversized");
      return;
    }
    const type = checkShape(datagram);
    if (typeof type !== "number") {
      this.host.drop("to_client", "malformed");
      return;
    }
    this.host.ctx.counters.messages.to_client[type - 1]!++;
    this.#toClient.push(datagram);
  }

  #sendUpstream(datagram: Uint8Array): void {
    this.udp.send(datagram, this.upstream.port, this.upstreamAddress);
    const { stats, ctx } = this.host;
    stats.toUpstream.datagrams++;
    stats.toUpstream.bytes += datagram.length;
    ctx.counters.datagrams.to_upstream++;
    ctx.counters.bytes.to_upstream += datagram.length;
    this.#capture("to_upstream", datagram);
  }

  #sendClient(datagram: Uint8Array): void {
    const { stats, ctx } = this.host;
    const backlog = bufferedTowardClient(this.wt, this.datagramSize);
    if (backlog + datagram.length > ctx.limits.clientBufferBytes) {
      // The client does not read: drop (it idles out, as it sends nothing either).
      this.host.drop("to_client", "client-backlog");
      return;
    }
    const carriage: Carriage =
      this.carriage === "stream" || datagram.length > this.datagramSize ? "stream" : "datagrams";
    if (carriage === "datagrams") this.#datagramWriter.write(datagram).catch(ignore);
    else if (!this.#sendOnMessageStream(datagram)) return;
    ctx.counters.carried.to_client[carriage]++;
    stats.toClient.datagrams++;
    stats.toClient.bytes += datagram.length;
    ctx.counters.datagrams.to_client++;
    ctx.counters.bytes.to_client += datagram.length;
    this.#capture("to_client", datagram);
  }

  /** A message on the message stream; false (counted, reported) when it cannot go. */
  #sendOnMessageStream(message: Uint8Array): boolean {
    const outcome = this.#lane?.send(message) ?? "no-message-stream";
    if (outcome === "sent") return true;
    this.host.drop("to_client", outcome);
    if (outcome === "no-message-stream" && message.length > this.datagramSize) {
      this.host.sendError(
        "oversized",
        `message of ${message.length} bytes from the upstream exceeds ${this.datagramSize} and no message stream is open`,
        this.datagramSize,
      );
    }
    return false;
  }

  #capture(direction: Direction, datagram: Uint8Array): void {
    const { ctx } = this.host;
    ctx.capture?.record({
      sessionIndex: ctx.index,
      direction,
      upstream: { address: this.upstreamAddress, port: this.upstream.port },
      datagram,
      timeMs: Date.now(),
    });
  }

  /**
   * Counts what the kernel dropped on the upstream socket since the last reading (its receive
   * buffer overflowed: see socket-drops.ts) as drops toward the client.
   */
  countSocketDrops(table: UdpDrops): void {
    let key: string;
    try {
      const local = this.udp.address();
      key = udpKey(local.family === "IPv6" ? 6 : 4, local.port);
    } catch {
      return; // Closed.
    }
    const now = table.get(key);
    if (now === undefined || now <= this.#socketDrops) return;
    this.host.drop("to_client", "socket-overflow", now - this.#socketDrops);
    this.#socketDrops = now;
  }

  /** Frees the socket, the queues and the lane. */
  close(): void {
    this.#toUpstream.close();
    this.#toClient.close();
    this.udp.close();
    this.#lane?.close();
  }
}
