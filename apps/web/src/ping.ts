/**
 * The Tools screen's ping: ICMP or ICMPv6 echo requests through the tunnel, one per interval, and
 * their replies matched by sequence number; a summary (as ping(8) prints) when the last reply is
 * in or the wait after the last request is over.
 */
import { buildEcho } from "@wiregate/packets";
import type { FromWorker, PingRequest } from "./protocol.js";

/** How long replies to the last request are waited for, at least. */
const LAST_REPLY_WAIT_MS = 2000;

type PingMessage = Extract<
  FromWorker,
  { type: "ping-reply" | "ping-lost" | "ping-done" | "error" }
>;

export interface PingOptions {
  request: PingRequest;
  /** The interface address the requests come from. */
  source: string;
  /** The echo identifier replies must carry. */
  id: number;
  /** Sends one IP packet into the tunnel. */
  send: (packet: Uint8Array) => void;
  post: (message: PingMessage) => void;
  /** Called once, when the run is over (finished, stopped or failed). */
  done: () => void;
  now: () => number;
}

export class Ping {
  readonly id: number;
  #next = 1;
  readonly #sentAt = new Map<number, number>();
  readonly #rtts: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #finished = false;

  constructor(private readonly options: PingOptions) {
    this.id = options.id;
  }

  start(): void {
    this.#step();
  }

  /** An echo reply with this run's identifier arrived. */
  reply(sequence: number, from: string, bytes: number): void {
    const sentAt = this.#sentAt.get(sequence);
    if (this.#finished || sentAt === undefined) return;
    this.#sentAt.delete(sequence);
    const rttMs = this.options.now() - sentAt;
    this.#rtts.push(rttMs);
    this.options.post({ type: "ping-reply", reply: { sequence, rttMs, bytes, from } });
    if (this.#next > this.options.request.count && this.#sentAt.size === 0) this.stop();
  }

  /** Ends the run now: what is unanswered is lost, and the summary is posted. */
  stop(): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    const { post } = this.options;
    for (const sequence of this.#sentAt.keys()) post({ type: "ping-lost", sequence });
    const transmitted = this.#next - 1;
    const rtts = this.#rtts;
    const received = rtts.length;
    const sum = rtts.reduce((a, b) => a + b, 0);
    post({
      type: "ping-done",
      summary: {
        transmitted,
        received,
        lossPercent: transmitted ? (100 * (transmitted - received)) / transmitted : 0,
        ...(received
          ? { min: Math.min(...rtts), avg: sum / received, max: Math.max(...rtts) }
          : {}),
      },
    });
    this.options.done();
  }

  #step(): void {
    if (this.#finished) return;
    const { request, now } = this.options;
    if (this.#next > request.count) {
      this.stop();
      return;
    }
    const sequence = this.#next;
    const data = new Uint8Array(Math.max(0, request.size));
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    let packet: Uint8Array;
    try {
      packet = buildEcho({
        source: this.options.source,
        destination: request.destination,
        id: this.id,
        sequence,
        data,
      });
    } catch (error) {
      this.options.post({ type: "error", message: (error as Error).message });
      this.stop();
      return;
    }
    this.#next++; // transmitted from here on, whatever the tunnel does with it
    this.#sentAt.set(sequence, now());
    this.options.send(packet);
    const last = sequence === request.count;
    this.#timer = setTimeout(
      () => this.#step(),
      last ? Math.max(LAST_REPLY_WAIT_MS, request.intervalMs) : request.intervalMs,
    );
  }
}
