/**
 * The stack with a clock: drives a sans-IO Stack from a scheduler (real time in Node and in a
 * Worker, virtual time in tests) and offers sockets as Web Streams.
 */
import type { StackEvent, TcpErrorKind } from "./events.js";
import { Stack, type StackOptions } from "./stack.js";
import type { KeepAlive } from "./tcp/config.js";
import type { TcpSocket } from "./tcp/socket.js";

/** Time and timers; the default is `performance.now()` and the global timers. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * Runs `fn` once the input already queued has been handled (Node: `setImmediate`). Arrivals
   * are polled this way, so a burst of segments gets one ACK. Without it, every arrival is
   * polled on its own (a microtask).
   */
  afterInput?(fn: () => void): void;
}

/** A task after the pending ones: setImmediate in Node, a MessageChannel message elsewhere. */
function nextTask(): (fn: () => void) => void {
  if (typeof setImmediate === "function") return (fn) => void setImmediate(fn);
  const channel = new MessageChannel();
  const queue: (() => void)[] = [];
  // The DOM's MessagePort (browsers, workers); typed by hand, this package builds without DOM types.
  (channel.port1 as unknown as { onmessage: () => void }).onmessage = () => queue.shift()?.();
  return (fn) => {
    queue.push(fn);
    channel.port2.postMessage(null);
  };
}

export const realClock: Clock = {
  afterInput: nextTask(),
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms) as unknown as { unref?: () => void };
    t.unref?.(); // a Node process is not kept alive by the stack's timers alone
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface NetstackOptions extends Omit<StackOptions, "random"> {
  /** Puts an IP packet into the tunnel. */
  send: (packet: Uint8Array) => void;
  random?: (n: number) => Uint8Array;
  clock?: Clock;
}

/** A connection failed: refused, reset, timed out, unreachable or aborted. */
export class NetstackError extends Error {
  readonly kind: TcpErrorKind;
  constructor(kind: TcpErrorKind, what: string) {
    super(`${what}: ${MESSAGES[kind]}`);
    this.name = "NetstackError";
    this.kind = kind;
  }
}

const MESSAGES: Record<TcpErrorKind, string> = {
  refused: "connection refused (the peer answered with RST)",
  reset: "connection reset by the peer",
  "timed-out": "timed out (no answer after the retransmissions)",
  unreachable: "destination unreachable (ICMP)",
  aborted: "connection aborted locally",
};

export interface TcpConnection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves after an orderly close; rejects with a NetstackError. */
  readonly closed: Promise<void>;
  readonly socket: TcpSocket;
}

export interface TcpServer {
  readonly port: number;
  readonly connections: ReadableStream<TcpConnection>;
  close(): void;
}

export interface UdpDatagram {
  from: string;
  fromPort: number;
  data: Uint8Array;
}

export interface UdpSocket {
  readonly port: number;
  readonly readable: ReadableStream<UdpDatagram>;
  send(host: string, port: number, data: Uint8Array): void;
  close(): void;
}

interface Watch {
  wake: () => void;
  connected?: () => void;
  closed: (error?: TcpErrorKind) => void;
}

const UDP_QUEUE = 256;
const MAX_BURST = 64;
const defaultRandom = (n: number) => crypto.getRandomValues(new Uint8Array(n));

export class Netstack {
  readonly stack: Stack;
  readonly #send: (packet: Uint8Array) => void;
  readonly #clock: Clock;
  readonly #watches = new Map<TcpSocket, Watch>();
  readonly #servers = new Map<number, ReadableStreamDefaultController<TcpConnection>>();
  readonly #udp = new Map<number, ReadableStreamDefaultController<UdpDatagram>>();
  readonly #pings = new Map<string, (rtt: number) => void>();
  #timer: unknown;
  #timerAt: number | undefined;
  #scheduled = false;
  /** Arrivals since the last poll, and whether a poll after them is scheduled. */
  #burst = 0;
  #burstScheduled = false;
  #pingId = 0;

  constructor(options: NetstackOptions) {
    this.stack = new Stack({ ...options, random: options.random ?? defaultRandom });
    this.#send = options.send;
    this.#clock = options.clock ?? realClock;
  }

  /** An IP packet from the tunnel. */
  receive(packet: Uint8Array): void {
    this.stack.receive(this.#clock.now(), packet);
    // One poll (and so one ACK) per burst, but no burst longer than MAX_BURST segments: a
    // stretch ACK like the ones GRO makes Linux send, without the per-packet cost of ACKing
    // every second segment (each ACK is a seal and a send).
    const afterInput = this.#clock.afterInput;
    if (afterInput === undefined || ++this.#burst >= MAX_BURST) this.#pollSoon();
    else if (!this.#burstScheduled) {
      this.#burstScheduled = true;
      afterInput(() => {
        this.#burstScheduled = false;
        this.#poll();
      });
    }
  }

  /** Opens a TCP connection; resolves once established. */
  connect(options: {
    host: string;
    port: number;
    noDelay?: boolean;
    keepAlive?: KeepAlive;
  }): Promise<TcpConnection> {
    const socket = this.stack.connect(this.#clock.now(), options);
    const what = `connect to ${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
    return new Promise((resolve, reject) => {
      const conn = this.#wrap(socket, what);
      const watch = this.#watches.get(socket)!;
      watch.connected = () => resolve(conn);
      conn.closed.then(
        () => reject(new NetstackError("aborted", what)),
        (e: unknown) => reject(e),
      );
      this.#kick();
    });
  }

  listen(port: number, options: { backlog?: number } = {}): TcpServer {
    this.stack.listen(port, options.backlog);
    let controller!: ReadableStreamDefaultController<TcpConnection>;
    const connections = new ReadableStream<TcpConnection>(
      {
        start: (c) => {
          controller = c;
        },
      },
      { highWaterMark: options.backlog ?? 128 },
    );
    this.#servers.set(port, controller);
    return {
      port,
      connections,
      close: () => {
        this.stack.unlisten(port);
        this.#servers.delete(port);
        controller.close();
      },
    };
  }

  readonly udp = {
    bind: (port?: number): UdpSocket => {
      const bound = this.stack.udp.bind(port);
      let controller!: ReadableStreamDefaultController<UdpDatagram>;
      const readable = new ReadableStream<UdpDatagram>(
        {
          start: (c) => {
            controller = c;
          },
        },
        { highWaterMark: UDP_QUEUE },
      );
      this.#udp.set(bound, controller);
      return {
        port: bound,
        readable,
        send: (host, remotePort, data) => {
          this.stack.udpSend(bound, host, remotePort, data);
          this.#kick();
        },
        close: () => {
          this.stack.udp.close(bound);
          this.#udp.delete(bound);
          controller.close();
        },
      };
    },
  };

  /** ICMP echo; resolves with the round-trip time in ms, rejects after `timeout`. */
  ping(host: string, timeout = 5000): Promise<number> {
    const id = 0x5747;
    const sequence = this.#pingId++ & 0xffff;
    const start = this.#clock.now();
    return new Promise((resolve, reject) => {
      const key = `${host}|${id}|${sequence}`;
      const timer = this.#clock.setTimeout(() => {
        this.#pings.delete(key);
        reject(new Error(`ping ${host}: no reply within ${timeout} ms`));
      }, timeout);
      this.#pings.set(key, (at) => {
        this.#clock.clearTimeout(timer);
        resolve(at - start);
      });
      this.stack.ping(host, id, sequence);
      this.#kick();
    });
  }

  #wrap(socket: TcpSocket, what: string): TcpConnection {
    // Readers and writers waiting for the socket to change; any event wakes them all.
    let waiters: (() => void)[] = [];
    const waitForWake = () => new Promise<void>((r) => void waiters.push(r));
    const wake = () => {
      const ready = waiters;
      waiters = [];
      for (const w of ready) w();
    };
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    const closed = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    closed.catch(() => {}); // the streams report the same error; no unhandled rejection
    const fail = () => new NetstackError(socket.error ?? "aborted", what);
    this.#watches.set(socket, {
      wake,
      closed: (error) => {
        this.#watches.delete(socket);
        wake();
        if (error) settle.reject(new NetstackError(error, what));
        else settle.resolve();
      },
    });
    const readable = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          for (;;) {
            if (socket.readableLength > 0) {
              controller.enqueue(socket.read(65536));
              this.#kick(); // the window may have opened
              return;
            }
            if (socket.ended) return controller.close();
            if (socket.error) throw fail();
            if (socket.state === "closed") return controller.close();
            await waitForWake();
          }
        },
        cancel: () => socket.abort(),
      },
      { highWaterMark: 0 },
    );
    const writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        let offset = 0;
        while (offset < chunk.length) {
          if (socket.state === "closed") throw fail();
          offset += socket.write(chunk.subarray(offset));
          this.#kick();
          if (offset < chunk.length) await waitForWake();
        }
      },
      close: () => {
        socket.close();
        this.#kick();
      },
      abort: () => {
        socket.abort();
        this.#kick();
      },
    });
    return { readable, writable, closed, socket };
  }

  /**
   * Polls the stack soon. A poll already scheduled after a burst of arrivals serves as well:
   * polling now would ACK half a burst.
   */
  #kick(): void {
    if (!this.#burstScheduled) this.#pollSoon();
  }

  /** Polls the stack in a microtask (once per turn, however many calls asked for it). */
  #pollSoon(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#poll();
    });
  }

  #poll(): void {
    this.#burst = 0;
    const now = this.#clock.now();
    const out = this.stack.poll(now);
    for (const p of out.packets) this.#send(p);
    for (const e of out.events) this.#dispatch(e, now);
    if (out.deadline !== this.#timerAt) {
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = out.deadline;
      if (out.deadline !== undefined) {
        this.#timer = this.#clock.setTimeout(
          () => {
            this.#timer = undefined;
            this.#timerAt = undefined;
            this.#poll();
          },
          Math.max(0, out.deadline - now),
        );
      }
    }
  }

  #dispatch(e: StackEvent, now: number): void {
    switch (e.type) {
      case "tcp-connected":
        this.#watches.get(e.socket)?.connected?.();
        break;
      case "tcp-accepted": {
        const server = this.#servers.get(e.port);
        if (!server || (server.desiredSize ?? 0) <= 0) {
          e.socket.abort(); // nobody accepts: the application's queue is full
          this.#kick();
          break;
        }
        const where = `${e.socket.remote}:${e.socket.remotePort}`;
        server.enqueue(this.#wrap(e.socket, `connection from ${where}`));
        break;
      }
      case "tcp-readable":
      case "tcp-end":
      case "tcp-writable":
        this.#watches.get(e.socket)?.wake();
        break;
      case "tcp-closed":
        this.#watches.get(e.socket)?.closed(e.error);
        break;
      case "udp": {
        const c = this.#udp.get(e.port);
        if (!c || (c.desiredSize ?? 0) <= 0) this.stack.stats.udpQueueFull++;
        else c.enqueue({ from: e.from, fromPort: e.fromPort, data: e.data });
        break;
      }
      case "echo-reply":
        this.#pings.get(`${e.from}|${e.id}|${e.sequence}`)?.(now);
        this.#pings.delete(`${e.from}|${e.id}|${e.sequence}`);
        break;
      case "unreachable":
        break;
    }
  }
}
