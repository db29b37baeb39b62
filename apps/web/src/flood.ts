/**
 * The Tools screen's flood (a benchmark): keeps `window` datagrams in flight for `durationMs`.
 * A datagram not back within FLOOD_LOSS_MS is counted lost and replaced, so a loss costs one
 * datagram, not a slot of the window for the rest of the run.
 */
import type { DatagramLosses } from "@wiregate/relay-protocol";
import type { FloodRequest, FloodResult } from "./protocol.js";

export const FLOOD_LOSS_MS = 250;
/** How often lost datagrams are looked for. */
const SWEEP_MS = 50;
/** After the run, replies still on their way may arrive for this long. */
const STRAGGLERS_MS = 500;

export interface FloodOptions {
  request: FloodRequest;
  /** Bytes per datagram on the relay hop. */
  datagramBytes: number;
  /** Sends one datagram. */
  send: () => void;
  /** The transport's own loss counters (compared before and after the run). */
  losses?: () => Promise<DatagramLosses | undefined>;
  done: (result: FloodResult) => void;
  now: () => number;
}

export class Flood {
  readonly request: FloodRequest;
  #sent = 0;
  #received = 0;
  #lost = 0;
  /** Send times of the datagrams in flight, oldest first (a reply retires the oldest). */
  #sentAt: number[] = [];
  #head = 0;
  #startedAt = 0;
  #endsAt = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lossesBefore: Promise<DatagramLosses | undefined> | undefined;
  #finished = false;

  constructor(private readonly options: FloodOptions) {
    this.request = options.request;
  }

  start(): void {
    this.#lossesBefore = this.options.losses?.();
    this.#startedAt = this.options.now();
    this.#endsAt = this.#startedAt + this.request.durationMs;
    this.#timer = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#fill();
  }

  /** One datagram came back. */
  reply(): void {
    if (this.#finished) return;
    this.#received++;
    if (this.#head < this.#sentAt.length) this.#head++;
    this.#fill();
  }

  get #inFlight(): number {
    return this.#sentAt.length - this.#head;
  }

  #fill(): void {
    const now = this.options.now();
    while (this.#inFlight < this.request.window && now < this.#endsAt) {
      this.#sent++;
      this.#sentAt.push(now);
      this.options.send();
    }
  }

  #sweep(): void {
    const now = this.options.now();
    while (this.#head < this.#sentAt.length && now - this.#sentAt[this.#head]! > FLOOD_LOSS_MS) {
      this.#head++;
      this.#lost++;
    }
    if (this.#head > 4096) {
      this.#sentAt = this.#sentAt.slice(this.#head);
      this.#head = 0;
    }
    if (now < this.#endsAt) this.#fill();
    else {
      clearInterval(this.#timer);
      this.#timer = setTimeout(() => void this.finish(), STRAGGLERS_MS);
    }
  }

  async finish(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    clearInterval(this.#timer);
    clearTimeout(this.#timer);
    const seconds = (Math.min(this.options.now(), this.#endsAt) - this.#startedAt) / 1000;
    const perSecond = this.#received / seconds;
    const [before, after] = await Promise.all([this.#lossesBefore, this.options.losses?.()]);
    this.options.done({
      mode: this.request.mode,
      sent: this.#sent,
      received: this.#received,
      lost: this.#lost,
      datagramBytes: this.options.datagramBytes,
      seconds,
      datagramsPerSecond: perSecond,
      megabitsPerSecond: (perSecond * this.request.payload * 8) / 1e6,
      ...(before && after
        ? {
            transportLosses: {
              droppedIncoming: after.droppedIncoming - before.droppedIncoming,
              expiredOutgoing: after.expiredOutgoing - before.expiredOutgoing,
              lostOutgoing: after.lostOutgoing - before.lostOutgoing,
            },
          }
        : {}),
    });
  }
}
