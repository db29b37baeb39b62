/**
 * The client side of a relay session: open a WebTransport session, say hello on the control
 * stream, wait for welcome, then move WireGuard messages as datagrams (one message = one datagram;
 * a message too large for the session's datagrams travels on the message stream instead) or, when
 * the session's carriage is `stream`, every message on the message stream.
 * Works with any WebTransport constructor: the browser's, the polyfill, or a Node implementation.
 */

import { DatagramQueue } from "./datagram-queue.js";
import { rejectAfter } from "./deadline.js";
import {
  type Carriage,
  type CarriageChoice,
  type ErrorCode,
  type ErrorFrame,
  encodeFrame,
  FrameReader,
  PROTOCOL_VERSION,
  type StatsFrame,
  type WelcomeFrame,
} from "./frames.js";
import { MAX_STREAM_MESSAGE, OPEN_MESSAGE_STREAM, StreamMessageReader } from "./message-stream.js";
import { StreamSender } from "./stream-sender.js";

/** The parts of the WebTransport API this client uses. */
export interface WebTransportLike {
  ready: Promise<unknown>;
  closed: Promise<unknown>;
  datagrams: {
    readable: ReadableStream<Uint8Array>;
    writable?: WritableStream<Uint8Array>;
    createWritable?: () => WritableStream<Uint8Array>;
    /** The largest datagram this side may send now (browsers: may grow after connecting). */
    maxDatagramSize?: number;
  };
  /** Native WebTransport (and the library's sessions): counters, including datagram losses. */
  getStats?(): Promise<{ datagrams?: Partial<DatagramLosses> }>;
  createBidirectionalStream(): Promise<{
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
  }>;
  close(info?: CloseInfo): void;
}

/** What a WebTransport close says to the other end: an application code and a reason. */
export interface CloseInfo {
  closeCode?: number;
  reason?: string;
}

/**
 * How a client closes its sessions when it goes away for good (a page closed, reloaded or left):
 * WebSocket's "going away" code and a reason the relay logs (docs/relay.md, "How sessions end"),
 * so the relay frees the session at once and can tell it from an idle timeout or a vanished client.
 */
export const GOING_AWAY: Readonly<Required<CloseInfo>> = {
  closeCode: 1001,
  reason: "page went away",
};

/** Why datagrams went missing inside the transport (WebTransport `getStats().datagrams`). */
export interface DatagramLosses {
  /** Dropped on arrival: the reader had not taken them and the incoming queue was full. */
  droppedIncoming: number;
  /** Waited too long in the sender's QUIC queue (congestion window or pacing) and were discarded. */
  expiredOutgoing: number;
  /** Sent but declared lost by QUIC. */
  lostOutgoing: number;
}

export type WebTransportConstructor = new (
  url: string,
  options?: Record<string, unknown>,
) => WebTransportLike;

export interface CertificateHash {
  algorithm: "sha-256";
  value: Uint8Array;
}

export interface ConnectRelayOptions {
  /** The constructor to use: native, the polyfill in the browser, or a Node implementation. */
  WebTransport: WebTransportConstructor;
  url: string;
  token?: string;
  upstream: string;
  /**
   * This client's WireGuard public key (base64), sent in the hello so an upstream that hands out
   * tunnel addresses (the demo peer) can answer with them (`welcome.addresses`).
   */
  publicKey?: string;
  serverCertificateHashes?: CertificateHash[];
  /** Extra options passed to the WebTransport constructor as they are. */
  transportOptions?: Record<string, unknown>;
  /**
   * Receive datagrams by callback instead of the `datagrams` iterable. A message from the message
   * stream may be a view into the chunk it was read in: copy it to keep it past the call.
   */
  onDatagram?: (datagram: Uint8Array) => void;
  /** Non-fatal errors the relay reports during the session (`oversized`, `limit`). */
  onError?: (error: ErrorFrame) => void;
  /** The carriage to ask for (the welcome says what the relay chose); absent: `datagrams`. */
  carriage?: CarriageChoice;
  /** The message stream's send queue limit in bytes (stream-sender.ts). */
  streamQueueBytes?: number;
  /** Datagrams buffered for the iterable before the oldest is dropped. Default 1024. */
  receiveQueueLength?: number;
  /** How long to wait for the transport and the welcome. Default 10 s. */
  timeoutMs?: number;
}

export interface RelayConnection {
  welcome: WelcomeFrame;
  /**
   * Sends one WireGuard message: as a datagram when it fits one, else on the message stream. The
   * relay reports an `oversized` error for one over `welcome.messageSize`.
   */
  send(datagram: Uint8Array): void;
  /** The session's carriage, as the welcome says. */
  readonly carriage: Carriage;
  /**
   * Messages on the message stream (every message with the stream carriage, else those that
   * exceeded the datagram limit); `dropped`: not sent because the stream's queue was full.
   */
  readonly streamed: { sent: number; received: number; dropped: number; writes: number };
  /** Incoming datagrams (empty when `onDatagram` is used). Ends when the session closes. */
  datagrams: AsyncIterable<Uint8Array>;
  /** Asks the relay for this session's counters. */
  stats(): Promise<StatsFrame>;
  /** Datagrams dropped locally because the iterable was not read fast enough. */
  readonly receiveDrops: number;
  /**
   * The transport's own datagram loss counters, with the messages dropped at the stream's queue
   * limit counted as expired in the sender's queue; undefined when the transport reports none
   * within 1 s and the session has no stream carriage.
   */
  datagramLosses(): Promise<DatagramLosses | undefined>;
  /** Resolves when the session ends, with the relay's fatal error if it sent one. */
  closed: Promise<{ error?: ErrorFrame }>;
  /** Ends the session; `info` is what the relay is told (default: code 0, no reason). */
  close(info?: CloseInfo): void;
}

/** Why connecting failed: a relay error code, or a transport/protocol failure. */
export class RelayError extends Error {
  readonly code: ErrorCode | "transport" | "protocol" | "timeout";
  readonly frame: ErrorFrame | undefined;
  constructor(code: RelayError["code"], message: string, frame?: ErrorFrame) {
    super(message);
    this.name = "RelayError";
    this.code = code;
    this.frame = frame;
  }
}

/** How long `datagramLosses()` waits for the transport's counters. */
const STATS_TIMEOUT_MS = 1_000;

/** Error codes after which an open session continues. */
const NON_FATAL: ReadonlySet<ErrorCode> = new Set(["oversized", "limit"]);

/**
 * `promise`, or a `timeout` error once `ms` passed; time this page or process did not run (a
 * stalled tab, a starved machine) does not count: the answer may be waiting unread (deadline.ts).
 */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const timeout = rejectAfter(ms, () => new RelayError("timeout", `${what} took over ${ms} ms`));
  return Promise.race([promise, timeout.expired]).finally(() => timeout.cancel());
}

/** Connects to a relay and opens a session toward the named upstream. */
export async function connectRelay(options: ConnectRelayOptions): Promise<RelayConnection> {
  if (typeof options.WebTransport !== "function") {
    throw new TypeError("connectRelay: options.WebTransport must be a constructor");
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const transportOptions: Record<string, unknown> = { ...options.transportOptions };
  if (options.serverCertificateHashes) {
    transportOptions.serverCertificateHashes = options.serverCertificateHashes;
  }

  let wt: WebTransportLike;
  try {
    wt = new options.WebTransport(options.url, transportOptions);
  } catch (error) {
    throw new RelayError("transport", `cannot open WebTransport: ${(error as Error).message}`);
  }
  try {
    await withTimeout(wt.ready, timeoutMs, "WebTransport ready");
  } catch (error) {
    if (error instanceof RelayError) throw error;
    throw new RelayError("transport", `WebTransport failed: ${(error as Error)?.message ?? error}`);
  }

  const queue = new DatagramQueue(options.receiveQueueLength ?? 1024);
  const deliver = options.onDatagram ?? ((datagram: Uint8Array) => queue.push(datagram));
  let open = true;

  // Keep one read pending at all times: browsers buffer very few incoming datagrams.
  const datagramReader = wt.datagrams.readable.getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await datagramReader.read();
        if (done) break;
        if (value) deliver(value);
      }
    } catch {
      // The session closed; `closed` reports why.
    }
    queue.end();
  })();

  const writable = wt.datagrams.createWritable?.() ?? wt.datagrams.writable;
  if (!writable) throw new RelayError("transport", "WebTransport has no datagram writable");
  const datagramWriter = writable.getWriter();

  const control = await wt.createBidirectionalStream();
  const controlWriter = control.writable.getWriter();
  const controlReader = control.readable.getReader();
  const hello = {
    type: "hello" as const,
    version: PROTOCOL_VERSION,
    upstream: options.upstream,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.publicKey !== undefined ? { publicKey: options.publicKey } : {}),
    ...(options.carriage !== undefined ? { carriage: options.carriage } : {}),
  };
  void controlWriter.write(encodeFrame(hello)).catch(() => {});

  const statsWaiters: { resolve: (s: StatsFrame) => void; reject: (e: Error) => void }[] = [];
  let fatal: ErrorFrame | undefined;
  let welcomed = false;
  let resolveWelcome!: (w: WelcomeFrame) => void;
  let rejectWelcome!: (e: Error) => void;
  const welcomePromise = new Promise<WelcomeFrame>((resolve, reject) => {
    resolveWelcome = resolve;
    rejectWelcome = reject;
  });

  const finish = (info?: CloseInfo) => {
    if (!open) return;
    open = false;
    for (const waiter of statsWaiters.splice(0)) {
      waiter.reject(new RelayError("transport", "session closed"));
    }
    rejectWelcome(fatal ? fatalError(fatal) : new RelayError("transport", "session closed"));
    queue.end();
    try {
      wt.close(info);
    } catch {
      // Already closed.
    }
  };

  const frames = new FrameReader();
  const controlLoop = (async () => {
    try {
      for (;;) {
        const { value, done } = await controlReader.read();
        if (done || !value) break;
        for (const result of frames.push(value)) {
          if (!result.ok) {
            rejectWelcome(new RelayError("protocol", `bad control frame: ${result.detail}`));
            return;
          }
          const frame = result.frame;
          if (frame.type === "welcome") {
            welcomed = true;
            resolveWelcome(frame);
          } else if (frame.type === "stats") statsWaiters.shift()?.resolve(frame);
          else if (frame.type === "error") {
            // Before the welcome every error is a refusal.
            if (welcomed && NON_FATAL.has(frame.code)) options.onError?.(frame);
            else {
              fatal = frame;
              return;
            }
          }
        }
      }
    } catch {
      // Stream reset: treated as the end of the session.
    }
  })();
  // When the transport closes, let the control loop finish the frames already received: a
  // refusal is sent just before the relay closes the session.
  const transportClosed = wt.closed
    .catch(() => {})
    .then(() => Promise.race([controlLoop, new Promise((resolve) => setTimeout(resolve, 250))]));
  const closed = Promise.race([controlLoop, transportClosed]).then(() => {
    finish();
    return fatal ? { error: fatal } : {};
  });

  let welcome: WelcomeFrame;
  try {
    welcome = await withTimeout(welcomePromise, timeoutMs, "relay welcome");
  } catch (error) {
    finish();
    throw error;
  }

  const carriage: Carriage = welcome.carriage ?? "datagrams";
  let received = 0;
  let sender: StreamSender | undefined;
  if (carriage === "stream" || (welcome.messageSize ?? 0) > welcome.datagramSize) {
    try {
      const writer = await openMessageStream(
        wt,
        welcome.messageSize ?? welcome.datagramSize,
        // A caller's `onDatagram` is done with a message when it returns (the page's device has
        // decrypted it): it gets views into the read chunk; the queue keeps copies.
        options.onDatagram !== undefined,
        (message) => {
          received++;
          deliver(message);
        },
      );
      sender = new StreamSender(
        writer,
        options.streamQueueBytes !== undefined ? { maxBytes: options.streamQueueBytes } : {},
      );
    } catch (error) {
      finish();
      throw new RelayError("transport", `cannot open the message stream: ${error}`);
    }
  }
  const datagramLimit = () => Math.min(welcome.datagramSize, wt.datagrams.maxDatagramSize ?? 65535);
  const streamed = {
    get sent() {
      return sender?.sent ?? 0;
    },
    get dropped() {
      return sender?.drops ?? 0;
    },
    get writes() {
      return sender?.writes ?? 0;
    },
    get received() {
      return received;
    },
  };

  return {
    welcome,
    carriage,
    send(datagram: Uint8Array) {
      if (!(datagram instanceof Uint8Array)) {
        throw new TypeError("RelayConnection.send: datagram must be a Uint8Array");
      }
      if (!open) return;
      if (
        sender &&
        datagram.length > 0 &&
        datagram.length <= MAX_STREAM_MESSAGE &&
        (carriage === "stream" || datagram.length > datagramLimit())
      ) {
        sender.send(datagram);
      } else datagramWriter.write(datagram).catch(() => {});
    },
    streamed,
    datagrams: queue,
    stats() {
      if (!open) return Promise.reject(new RelayError("transport", "session closed"));
      return new Promise<StatsFrame>((resolve, reject) => {
        statsWaiters.push({ resolve, reject });
        controlWriter.write(encodeFrame({ type: "stats-request" })).catch(reject);
      });
    },
    get receiveDrops() {
      return queue.drops;
    },
    async datagramLosses() {
      // The library's WebSocket mapping may never answer: a second is plenty for a local read.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stats = await Promise.race([
        wt.getStats?.().catch(() => undefined),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), STATS_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      const d = stats?.datagrams;
      // A message dropped at the stream's queue limit is what a datagram expiring in the
      // sender's queue is: it waited too long to go.
      const queueDrops = sender?.drops ?? 0;
      if (!d) return carriage === "stream" ? emptyLosses(queueDrops) : undefined;
      return {
        droppedIncoming: Number(d.droppedIncoming ?? 0),
        expiredOutgoing: Number(d.expiredOutgoing ?? 0) + queueDrops,
        lostOutgoing: Number(d.lostOutgoing ?? 0),
      };
    },
    closed,
    close(info?: CloseInfo) {
      sender?.close();
      finish(info);
    },
  };
}

/**
 * Opens the message stream (its first bytes tell the relay what it is) and delivers the messages
 * the relay sends on it; the relay skips and reports ours above `messageSize`.
 */
async function openMessageStream(
  wt: WebTransportLike,
  messageSize: number,
  views: boolean,
  deliver: (message: Uint8Array) => void,
): Promise<WritableStreamDefaultWriter<Uint8Array>> {
  const stream = await wt.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  void writer.write(OPEN_MESSAGE_STREAM).catch(() => {});
  const reader = stream.readable.getReader();
  const messages = new StreamMessageReader(messageSize, { views });
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || !value) break;
        for (const result of messages.push(value)) if (result.ok) deliver(result.message);
      }
    } catch {
      // The session closed.
    }
  })();
  return writer;
}

function emptyLosses(expiredOutgoing: number): DatagramLosses {
  return { droppedIncoming: 0, expiredOutgoing, lostOutgoing: 0 };
}

function fatalError(frame: ErrorFrame): RelayError {
  return new RelayError(frame.code, `relay refused: ${frame.code}: ${frame.message}`, frame);
}
