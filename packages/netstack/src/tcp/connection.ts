/**
 * One TCP connection: its control block (RFC 9293 §3.3.1), what it sends (`dispatch`) and its
 * timers. Segment arrival is in input.ts. The connection does no I/O: packets and events go to a
 * Sink, time comes in as `now`.
 */
import type { IpFamily } from "@wiregate/core";
import { ByteQueue } from "../byte-queue.js";
import type { Sink, TcpErrorKind } from "../events.js";
import { type Seq, seqDiff, seqGt } from "../seq.js";
import type { KeepAlive, TcpConfig } from "./config.js";
import { CongestionControl } from "./congestion.js";
import { SentLog } from "./rack.js";
import { Reassembly } from "./reassembly.js";
import { RttEstimator } from "./rtt.js";
import { SendLimits } from "./send-limits.js";
import type { TcpInfo, TcpSocket, TcpState } from "./socket.js";

/** Timers in a fixed table; the connection's deadline is the earliest armed one. */
export const TIMERS = [
  "probe",
  "retransmit",
  "reorder",
  "delayedAck",
  "persist",
  "keepalive",
  "timeWait",
] as const;
export type TimerName = (typeof TIMERS)[number];

/** A listening port: half-open connections count against its limit (SYN floods stay bounded). */
export interface Backlog {
  port: number;
  limit: number;
  halfOpen: number;
}

export interface Endpoints {
  family: IpFamily;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
}

/** Our receive window scale: the smallest shift that lets the buffer be advertised whole. */
function windowScaleFor(buffer: number): number {
  let shift = 0;
  while (shift < 14 && buffer >> shift > 0xffff) shift++;
  return shift;
}

export class Connection implements TcpSocket {
  readonly id: number;
  readonly family: IpFamily;
  readonly local: string;
  readonly localPort: number;
  readonly remote: string;
  readonly remotePort: number;
  readonly config: TcpConfig;
  /** The listening port's backlog, while this connection is half-open and counted in it. */
  backlog: Backlog | undefined;
  state: TcpState;
  error: TcpErrorKind | undefined;

  // Send sequence space (RFC 9293 §3.3.1). SND.MAX is the highest sequence ever sent.
  iss: Seq;
  sndUna: Seq;
  sndNxt: Seq;
  sndMax: Seq;
  sndWnd = 0;
  sndWl1: Seq = 0;
  sndWl2: Seq = 0;
  maxSndWnd = 0;
  sndScale = 0;
  /** Our send MSS: the peer's MSS option bounded by our own MTU, less the timestamp option. */
  mss: number;
  // Receive sequence space.
  irs: Seq = 0;
  rcvNxt: Seq = 0;
  /** Right edge of the window we last advertised; it never moves left (RFC 9293 §3.8.6). */
  rcvAdv: Seq = 0;
  readonly rcvScale: number;
  /** The MSS we announce (from the tunnel MTU, RFC 6691). */
  readonly ourMss: number;
  // Options negotiated in the handshake.
  useScale = false;
  sackPermitted = false;
  useTimestamps = false;
  tsRecent = 0;
  tsOffset: number;
  lastAckSent: Seq = 0;
  /** Our timestamp clock when the retransmission timer last fired (see input.ts). */
  tsAtTimeout = 0;

  readonly sendQueue: ByteQueue;
  readonly receiveQueue: ByteQueue;
  readonly outOfOrder: Reassembly;
  /** Each segment in flight, what the peer SACKed and RACK's losses (used when `cc.sack`). */
  readonly sent = new SentLog();
  /** SND.MAX at the last retransmission timeout: losses below it start no new fast recovery. */
  rtoRecover: Seq | undefined;
  /** A tail loss probe is out and no ACK of new data has come since (RFC 8985 §7). */
  probeOut = false;
  finQueued = false;
  /** Sequence number of our FIN once first sent. */
  ourFinSeq: Seq | undefined;
  /** Sequence number right after the peer's FIN, once seen (possibly out of order). */
  peerFinAt: Seq | undefined;
  finReceived = false;

  readonly rtt = new RttEstimator();
  /** Karn's rule (RFC 6298 §3): one segment timed at a time, never a retransmitted one. */
  rttSeq: Seq | undefined;
  rttStart = 0;
  readonly cc: CongestionControl;
  /** What held the sender back, in time (set after each send opportunity, output.ts). */
  readonly limits = new SendLimits();
  /** Segments of this connection sent again. */
  retransmitted = 0;
  retries = 0;
  persistBackoff = 0;
  keepAlive: KeepAlive | undefined;
  keepAliveProbes = 0;
  noDelay = false;
  ackNow = false;
  /** Full-sized segments received since our last ACK (RFC 9293 §3.8.6.3: ACK every second). */
  unacked = 0;
  /** ACK every segment at the start, as Linux's quick-ack mode does. */
  quickAcks = 16;
  challengeWindowStart = -Infinity;
  challengeCount = 0;
  sendRst = false;
  wantWritable = false;
  /** Armed timers: absolute deadlines, or undefined. */
  readonly timers: Record<TimerName, number | undefined> = {
    retransmit: undefined,
    reorder: undefined,
    probe: undefined,
    delayedAck: undefined,
    persist: undefined,
    keepalive: undefined,
    timeWait: undefined,
  };

  readonly sink: Sink;

  constructor(
    id: number,
    ends: Endpoints,
    iss: Seq,
    ourMss: number,
    config: TcpConfig,
    sink: Sink,
    tsOffset: number,
    state: "syn-sent" | "syn-received",
  ) {
    this.id = id;
    this.family = ends.family;
    this.local = ends.local;
    this.localPort = ends.localPort;
    this.remote = ends.remote;
    this.remotePort = ends.remotePort;
    this.config = config;
    this.sink = sink;
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.ourMss = ourMss;
    this.mss = ourMss;
    this.tsOffset = tsOffset;
    this.tsAtTimeout = tsOffset;
    this.state = state;
    this.rcvScale = windowScaleFor(config.receiveBuffer);
    this.sendQueue = new ByteQueue(config.sendBuffer);
    this.receiveQueue = new ByteQueue(config.receiveBuffer);
    this.outOfOrder = new Reassembly(config.maxOutOfOrder);
    this.cc = new CongestionControl(ourMss, config.cubic);
  }

  // ---- the application's side (TcpSocket) ----

  get readableLength(): number {
    return this.receiveQueue.length;
  }

  get ended(): boolean {
    return this.finReceived && this.receiveQueue.length === 0;
  }

  get writableSpace(): number {
    return this.finQueued || this.state === "closed" ? 0 : this.sendQueue.free;
  }

  get unacknowledged(): number {
    return this.sendQueue.length;
  }

  get info(): TcpInfo {
    return {
      mss: this.mss,
      cwnd: Math.floor(this.cc.cwnd),
      ssthresh: this.cc.ssthresh,
      flight: this.flight(),
      sendWindow: this.sndWnd,
      receiveWindow: Math.max(0, this.receiveWindow()),
      srtt: this.rtt.srtt,
      rto: this.rtt.current,
      retransmissions: this.retransmitted,
      limit: this.limits.current,
      limitedMs: { ...this.limits.ms },
    };
  }

  read(max = Number.POSITIVE_INFINITY): Uint8Array {
    const before = this.receiveWindow();
    const data = this.receiveQueue.shift(Math.min(max, this.receiveQueue.length));
    // Window update once the window has grown enough to be worth it (RFC 9293 §3.8.6.2.2).
    const grown = this.receiveWindow() - before;
    if (data.length > 0 && this.state !== "closed" && seqDiff(this.rcvAdv, this.rcvNxt) < grown) {
      if (this.receiveWindow() - seqDiff(this.rcvAdv, this.rcvNxt) >= this.swsThreshold()) {
        this.ackNow = true;
      }
    }
    return data;
  }

  write(data: Uint8Array): number {
    if (this.finQueued || this.state === "closed") return 0;
    const n = this.sendQueue.push(data);
    if (n < data.length) this.wantWritable = true;
    return n;
  }

  close(): void {
    if (this.finQueued || this.state === "closed") return;
    this.finQueued = true;
    // RFC 9293 §3.10.4: ESTABLISHED → FIN-WAIT-1, CLOSE-WAIT → LAST-ACK; the FIN follows the data.
    // In SYN-SENT and SYN-RECEIVED the FIN waits for the handshake (input.ts moves the state).
    if (this.state === "established") this.state = "fin-wait-1";
    else if (this.state === "close-wait") this.state = "last-ack";
  }

  abort(): void {
    if (this.state === "closed") return;
    const synchronized = this.state !== "syn-sent";
    this.finish("aborted");
    if (synchronized) this.sendRst = true;
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
  }

  setKeepAlive(keepAlive: KeepAlive | undefined): void {
    this.keepAlive = keepAlive;
    this.keepAliveProbes = 0;
    this.timers.keepalive = undefined;
  }

  // ---- state ----

  get synchronized(): boolean {
    return this.state !== "syn-sent" && this.state !== "syn-received" && this.state !== "closed";
  }

  /** The connection ends: queues the "tcp-closed" event once. */
  finish(error: TcpErrorKind | undefined): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.error = error;
    for (const t of TIMERS) this.timers[t] = undefined;
    this.outOfOrder.clear();
    if (error) this.sendQueue.drop(this.sendQueue.length);
    // What the peer sent before a reset stays readable, as on Linux: a server that answers and
    // closes before reading the whole request (so its kernel resets) still gets its answer read.
    // Only our own abort drops it: the application said it wants nothing more.
    if (error === "aborted") this.receiveQueue.drop(this.receiveQueue.length);
    // A half-open connection the application never saw leaves silently.
    if (this.backlog) {
      this.backlog.halfOpen--;
      this.backlog = undefined;
    } else {
      this.sink.events.push({ type: "tcp-closed", socket: this, ...(error ? { error } : {}) });
    }
  }

  enterTimeWait(now: number): void {
    this.state = "time-wait";
    for (const t of TIMERS) this.timers[t] = undefined;
    this.timers.timeWait = now + this.config.timeWait;
  }

  receiveWindow(): number {
    return this.receiveQueue.free - this.outOfOrder.bytes;
  }

  swsThreshold(): number {
    return Math.min(this.config.receiveBuffer / 2, this.ourMss);
  }

  /** Bytes in flight: sent and not acknowledged (including SYN and FIN). */
  flight(): number {
    return seqDiff(this.sndNxt, this.sndUna);
  }

  /** Whether our FIN has been sent and acknowledged. */
  finAcked(): boolean {
    return this.ourFinSeq !== undefined && seqGt(this.sndUna, this.ourFinSeq);
  }

  deadline(): number | undefined {
    let d: number | undefined;
    for (const t of TIMERS) {
      const v = this.timers[t];
      if (v !== undefined && (d === undefined || v < d)) d = v;
    }
    return d;
  }

  tsValue(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** Any segment from the peer resets keepalive (RFC 1122 §4.2.3.6). */
  heardFromPeer(now: number): void {
    this.keepAliveProbes = 0;
    if (this.keepAlive && this.state === "established") {
      this.timers.keepalive = now + this.keepAlive.idle;
    }
  }
}
