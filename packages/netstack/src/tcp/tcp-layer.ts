/**
 * The TCP layer: the connection table, listening ports with bounded backlogs, demultiplexing of
 * arriving segments, and the RST for segments that match nothing (RFC 9293 §3.10.7.1).
 */
import type { IpFamily } from "@wiregate/core";
import type { Sink } from "../events.js";
import type { IpDatagram } from "../ip.js";
import { seqAdd } from "../seq.js";
import { DEFAULT_TCP_CONFIG, type KeepAlive, mssForMtu, type TcpConfig } from "./config.js";
import { type Backlog, Connection, type Endpoints } from "./connection.js";
import { acceptSyn, segmentArrives } from "./input.js";
import { IsnGenerator } from "./isn.js";
import { dispatch } from "./output.js";
import {
  ACK,
  buildSegment,
  parseSegment,
  RST,
  type Segment,
  SYN,
  segmentLength,
} from "./segment.js";
import { expireTimers } from "./timers.js";

export interface TcpLayerOptions {
  mtu: number;
  random: (n: number) => Uint8Array;
  config?: Partial<TcpConfig>;
  /** Connections in the table at most, TIME-WAIT included. */
  maxConnections?: number;
  /** A bound on the buffers of all connections together (default: none). */
  bufferBudget?: BufferBudget;
}

/**
 * Full-size send and receive buffers (the config's) are given while their sum over all
 * connections stays within `total` bytes; a connection that finds too little left gets `fallback`
 * bytes each way. So all buffers together hold at most total + 2 × fallback × maxConnections.
 */
export interface BufferBudget {
  total: number;
  fallback: number;
}

export interface ConnectOptions {
  local: string;
  remote: string;
  port: number;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: KeepAlive;
}

const EPHEMERAL_FIRST = 49152; // RFC 6335 §6

export class TcpLayer {
  readonly config: TcpConfig;
  readonly #mtu: number;
  readonly #random: (n: number) => Uint8Array;
  readonly #isn: IsnGenerator;
  readonly #maxConnections: number;
  readonly #budget: BufferBudget | undefined;
  /** Connections holding full-size buffers from the budget. */
  readonly #budgeted = new Set<Connection>();
  readonly #connections = new Map<string, Connection>();
  readonly #listeners = new Map<number, Backlog>();
  readonly #sink: Sink;
  #nextId = 1;

  constructor(options: TcpLayerOptions, sink: Sink) {
    this.config = { ...DEFAULT_TCP_CONFIG, ...options.config };
    this.#mtu = options.mtu;
    this.#random = options.random;
    this.#isn = new IsnGenerator(options.random);
    this.#maxConnections = options.maxConnections ?? 4096;
    this.#budget = options.bufferBudget;
    this.#sink = sink;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Bytes the send and receive buffers of all connections may hold together. */
  get bufferCapacity(): number {
    let n = 0;
    for (const c of this.#connections.values()) n += c.sendQueue.capacity + c.receiveQueue.capacity;
    return n;
  }

  listen(port: number, backlog = 128): void {
    checkPort(port);
    if (this.#listeners.has(port)) throw new Error(`TCP port ${port} is already listening`);
    this.#listeners.set(port, { port, limit: backlog, halfOpen: 0 });
  }

  unlisten(port: number): void {
    this.#listeners.delete(port);
  }

  connect(now: number, o: ConnectOptions): Connection {
    checkPort(o.port);
    if (this.#connections.size >= this.#maxConnections) {
      this.#sink.stats.tableFull++;
      throw new RangeError(`too many TCP connections (${this.#maxConnections})`);
    }
    const localPort = o.localPort ?? this.#ephemeralPort(o.local, o.remote, o.port);
    const key = tupleKey(o.remote, o.port, o.local, localPort);
    if (this.#connections.has(key)) throw new Error(`connection ${key} already exists`);
    const family: IpFamily = o.remote.includes(":") ? 6 : 4;
    const ends = { family, local: o.local, localPort, remote: o.remote, remotePort: o.port };
    const c = this.#create(now, ends, "syn-sent");
    if (o.noDelay) c.setNoDelay(true);
    if (o.keepAlive) c.setKeepAlive(o.keepAlive);
    this.#connections.set(key, c);
    return c;
  }

  /** A TCP segment addressed to us. */
  receive(now: number, d: IpDatagram): void {
    const parsed = parseSegment(d.packet, d.offset);
    if (!parsed.ok) {
      this.#sink.stats.malformed++;
      return;
    }
    const seg = parsed.segment;
    const key = tupleKey(d.source, seg.sourcePort, d.destination, seg.destinationPort);
    const c = this.#connections.get(key);
    if (c) {
      segmentArrives(c, now, seg);
      return;
    }
    const listener = this.#listeners.get(seg.destinationPort);
    if (listener) this.#listen(now, d, seg, listener, key);
    else {
      this.#sink.stats.noSocket++;
      this.#reset(d, seg);
    }
  }

  /** Runs due timers and lets every connection send; returns the earliest deadline. */
  poll(now: number): number | undefined {
    let deadline: number | undefined;
    for (const [key, c] of this.#connections) {
      expireTimers(c, now);
      dispatch(c, now);
      if (c.state === "closed") {
        this.#connections.delete(key);
        this.#budgeted.delete(c);
        continue;
      }
      const d = c.deadline();
      if (d !== undefined && (deadline === undefined || d < deadline)) deadline = d;
    }
    return deadline;
  }

  /** An ICMP error quoting one of our segments (RFC 5927 §4.1: only if its SEQ is in flight). */
  unreachable(local: string, localPort: number, remote: string, remotePort: number, seq: number) {
    const c = this.#connections.get(tupleKey(remote, remotePort, local, localPort));
    if (!c) return;
    const inFlight = ((seq - c.sndUna) | 0) >= 0 && ((seq - c.sndMax) | 0) < 0;
    // A hard error only while connecting (RFC 1122 §4.2.3.9: soft errors do not abort).
    if (inFlight && (c.state === "syn-sent" || c.state === "syn-received")) c.finish("unreachable");
  }

  #listen(now: number, d: IpDatagram, seg: Segment, listener: Backlog, key: string): void {
    // RFC 9293 §3.10.7.2, LISTEN: RST ignored; ACK answered with RST; SYN opens a connection.
    if (seg.flags & RST) return;
    if (seg.flags & ACK) {
      this.#sink.stats.noSocket++;
      this.#reset(d, seg);
      return;
    }
    if (!(seg.flags & SYN)) return;
    if (listener.halfOpen >= listener.limit) {
      this.#sink.stats.backlogFull++;
      return;
    }
    if (this.#connections.size >= this.#maxConnections) {
      this.#sink.stats.tableFull++;
      return;
    }
    const ends = {
      family: d.family,
      local: d.destination,
      localPort: seg.destinationPort,
      remote: d.source,
      remotePort: seg.sourcePort,
    };
    const c = this.#create(now, ends, "syn-received");
    c.backlog = listener;
    listener.halfOpen++;
    acceptSyn(c, now, seg);
    this.#connections.set(key, c);
  }

  #create(now: number, ends: Endpoints, state: "syn-sent" | "syn-received"): Connection {
    const iss = this.#isn.next(now, ends.local, ends.localPort, ends.remote, ends.remotePort);
    const r = this.#random(4);
    const tsOffset = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
    const mss = mssForMtu(this.#mtu, ends.family);
    const budget = this.#budget;
    const full = this.config.sendBuffer + this.config.receiveBuffer;
    const fits = !budget || (this.#budgeted.size + 1) * full <= budget.total;
    const config = fits
      ? this.config
      : { ...this.config, sendBuffer: budget.fallback, receiveBuffer: budget.fallback };
    const c = new Connection(this.#nextId++, ends, iss, mss, config, this.#sink, tsOffset, state);
    if (budget && fits) this.#budgeted.add(c);
    return c;
  }

  #reset(d: IpDatagram, seg: Segment): void {
    if (seg.flags & RST) return;
    const base = {
      family: d.family,
      source: d.destination,
      destination: d.source,
      sourcePort: seg.destinationPort,
      destinationPort: seg.sourcePort,
      window: 0,
    };
    this.#sink.stats.resetsSent++;
    this.#sink.packets.push(
      seg.flags & ACK
        ? buildSegment({ ...base, seq: seg.ack, ack: 0, flags: RST })
        : buildSegment({
            ...base,
            seq: 0,
            ack: seqAdd(seg.seq, segmentLength(seg)),
            flags: RST | ACK,
          }),
    );
  }

  #ephemeralPort(local: string, remote: string, port: number): number {
    const r = this.#random(2);
    const span = 65536 - EPHEMERAL_FIRST;
    const start = ((r[0]! << 8) | r[1]!) % span;
    for (let i = 0; i < span; i++) {
      const candidate = EPHEMERAL_FIRST + ((start + i) % span);
      if (this.#listeners.has(candidate)) continue;
      if (!this.#connections.has(tupleKey(remote, port, local, candidate))) return candidate;
    }
    throw new RangeError("no free local port");
  }
}

function tupleKey(remote: string, remotePort: number, local: string, localPort: number): string {
  return `${remote}|${remotePort}|${local}|${localPort}`;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new RangeError(`port: ${port} is not 1–65535`);
  }
}
