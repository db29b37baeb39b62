/**
 * The embedded demo peer on a worker thread of its own (demo-peer-worker.ts runs a `DemoPeer`
 * there): its decryption, echo, encryption and netstack TCP do not compete with relaying for the
 * relay's thread. Across the thread boundary every question is a message, so the answers are
 * promises.
 */
import { Worker } from "node:worker_threads";
import type { TraceEvent } from "@wiregate/core";
import type { DemoPeerOptions } from "./demo-peer.js";
import type { AddressAssigner } from "./upstreams.js";

/** A trace event with `at`, the wall-clock time (ms since the epoch) on the demo peer's thread. */
export type DemoTraceEvent = TraceEvent & { at: number };

/** What the worker starts its `DemoPeer` with. */
export type DemoThreadSettings = Omit<DemoPeerOptions, "onEvent"> & { trace: boolean };

type ClientKeys = { privateKey: string; publicKey: Uint8Array };

/** The relay's questions to the demo peer's thread. */
type Question =
  | { op: "addressesFor"; publicKey: Uint8Array }
  | { op: "clientConfig"; client: ClientKeys; endpoint?: string }
  | { op: "initiateHandshake"; publicKey: Uint8Array }
  | { op: "clientCount" }
  | { op: "close" };

/** A question with the id its reply carries. */
export type DemoThreadRequest = Question & { id: number };

export type FromDemoThread =
  | { type: "ready"; publicKey: string; host: string; port: number; threadId: number }
  | { type: "event"; event: DemoTraceEvent }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: string };

type Ready = Extract<FromDemoThread, { type: "ready" }>;

export interface DemoPeerThreadOptions extends Omit<DemoPeerOptions, "onEvent"> {
  /** The demo peer's trace events; none cross the thread boundary without it. */
  onEvent?: (event: DemoTraceEvent) => void;
  /**
   * The thread died on its own (an uncaught error, or it exited): every pending and later
   * question is refused. Not called for `close()`.
   */
  onExit?: (error: Error) => void;
  /** The worker script; by default the built `demo-peer-worker.js` beside this module. */
  entry?: URL;
}

export class DemoPeerThread implements AddressAssigner {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(e: Error): void }>();
  #nextId = 0;
  /** Why the thread is gone, once it is. */
  #gone: Error | undefined;
  #closing = false;
  readonly publicKey: string;
  readonly host: string;
  readonly port: number;
  /** The demo peer's thread (the relay's main thread is 0). */
  readonly threadId: number;

  private constructor(worker: Worker, ready: Ready, onExit: ((error: Error) => void) | undefined) {
    this.#worker = worker;
    this.publicKey = ready.publicKey;
    this.host = ready.host;
    this.port = ready.port;
    this.threadId = ready.threadId;
    const fail = (error: Error) => {
      if (this.#gone) return;
      this.#end(error);
      if (!this.#closing) onExit?.(error);
    };
    worker.on("error", (error) => fail(new Error(`demo peer thread failed: ${error.message}`)));
    worker.on("exit", (code) => fail(new Error(`demo peer thread exited (code ${code})`)));
  }

  static async start(options: DemoPeerThreadOptions = {}): Promise<DemoPeerThread> {
    const { onEvent, onExit, entry, ...peerOptions } = options;
    const settings: DemoThreadSettings = { ...peerOptions, trace: onEvent !== undefined };
    const worker = new Worker(entry ?? new URL("./demo-peer-worker.js", import.meta.url), {
      workerData: settings,
    });
    let thread: DemoPeerThread | undefined;
    const ready = new Promise<Ready>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`demo peer thread exited (code ${code})`)));
      worker.on("message", (message: FromDemoThread) => {
        if (message.type === "ready") resolve(message);
        else if (message.type === "event") onEvent?.(message.event);
        else if (thread) thread.#settle(message);
      });
    });
    thread = new DemoPeerThread(worker, await ready, onExit);
    // The relay's own servers keep the process alive; the demo peer must not keep it from ending,
    // except while an answer is awaited (see #ask).
    worker.unref();
    return thread;
  }

  #ask(request: Question): Promise<unknown> {
    if (this.#gone) return Promise.reject(this.#gone);
    if (this.#closing) return Promise.reject(new Error("demo peer thread closed"));
    const id = ++this.#nextId;
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  /** No more questions: the pending ones are refused with `why`. */
  #end(why: Error): void {
    this.#gone = why;
    for (const { reject } of this.#pending.values()) reject(why);
    this.#pending.clear();
  }

  #settle(reply: Extract<FromDemoThread, { type: "reply" }>): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new Error(reply.error));
  }

  /** As `DemoPeer.addressesFor`; refused once the thread is gone. */
  addressesFor(publicKey: Uint8Array): Promise<string[] | undefined> {
    return this.#ask({ op: "addressesFor", publicKey }) as Promise<string[] | undefined>;
  }

  /** As `DemoPeer.clientConfig`. */
  clientConfig(client: ClientKeys, endpoint?: string): Promise<string> {
    const request = { op: "clientConfig", client, ...(endpoint ? { endpoint } : {}) } as const;
    return this.#ask(request) as Promise<string>;
  }

  /** Starts a handshake toward a known client (used to provoke collisions in tests). */
  async initiateHandshake(clientPublicKey: Uint8Array): Promise<void> {
    await this.#ask({ op: "initiateHandshake", publicKey: clientPublicKey });
  }

  clientCount(): Promise<number> {
    return this.#ask({ op: "clientCount" }) as Promise<number>;
  }

  /**
   * Closes the demo peer's socket, then ends its thread; a thread that does not answer within
   * `graceMs` (stuck in a loop) is ended all the same.
   */
  async close(graceMs = 1000): Promise<void> {
    if (this.#gone || this.#closing) return;
    const closed = this.#ask({ op: "close" }).catch(() => {});
    this.#closing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    // Its exit refuses whatever is still pending.
    await this.#worker.terminate();
  }
}
