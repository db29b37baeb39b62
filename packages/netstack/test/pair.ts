/**
 * Two stacks joined by a simulated link in virtual time: delay, loss, duplication and reordering
 * decided by a seeded generator, so every run is reproducible.
 */
import { deterministicRandom } from "@wiregate/core";
import type { StackEvent } from "../src/events.js";
import { Stack, type StackOptions } from "../src/stack.js";

export interface LinkOptions {
  /** One-way delay in ms. */
  delay?: number;
  /** Extra random delay up to this many ms (reorders packets). */
  jitter?: number;
  /** Probability of dropping / duplicating a packet. */
  loss?: number;
  duplicate?: number;
  seed?: number;
  /** Rewrites or drops (return undefined) a packet in flight; for hostile tests. */
  tamper?: (packet: Uint8Array, from: Side) => Uint8Array | undefined;
}

export type Side = "a" | "b";

/** mulberry32: a tiny seeded generator for link decisions. */
export function prng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r ^= r + Math.imul(r ^ (r >>> 7), 61 | r);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

export const A4 = "10.0.0.1";
export const B4 = "10.0.0.2";
export const A6 = "fd00::1";
export const B6 = "fd00::2";

export class Pair {
  now = 0;
  readonly a: Stack;
  readonly b: Stack;
  readonly link: LinkOptions;
  readonly #rand: () => number;
  #inFlight: { at: number; to: Side; packet: Uint8Array; order: number }[] = [];
  #order = 0;
  onEvent: (side: Side, event: StackEvent) => void = () => {};
  readonly deadlines: Record<Side, number | undefined> = { a: undefined, b: undefined };
  delivered = 0;

  constructor(
    link: LinkOptions = {},
    a: Partial<StackOptions> = {},
    b: Partial<StackOptions> = {},
  ) {
    this.link = link;
    this.#rand = prng(link.seed ?? 1);
    this.a = new Stack({ addresses: [A4, A6], random: deterministicRandom("a"), ...a });
    this.b = new Stack({ addresses: [B4, B6], random: deterministicRandom("b"), ...b });
  }

  stack(side: Side): Stack {
    return side === "a" ? this.a : this.b;
  }

  /** Polls both stacks until neither has anything to send right now. */
  flush(): void {
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (const side of ["a", "b"] as const) {
        const out = this.stack(side).poll(this.now);
        this.deadlines[side] = out.deadline;
        for (const p of out.packets) this.send(side, p);
        for (const e of out.events) this.onEvent(side, e);
        if (out.packets.length > 0 || out.events.length > 0) any = true;
      }
      if (!any) return;
    }
    throw new Error("flush did not settle");
  }

  /** Puts a packet on the link from `from`. */
  send(from: Side, packet: Uint8Array): void {
    const l = this.link;
    const p = l.tamper ? l.tamper(packet, from) : packet;
    if (!p) return;
    if (this.#rand() < (l.loss ?? 0)) return;
    const copies = this.#rand() < (l.duplicate ?? 0) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const at = this.now + (l.delay ?? 5) + this.#rand() * (l.jitter ?? 0);
      this.#inFlight.push({ at, to: from === "a" ? "b" : "a", packet: p, order: this.#order++ });
    }
  }

  /** Injects a packet directly into a stack (an attacker on the path). */
  inject(to: Side, packet: Uint8Array): void {
    this.stack(to).receive(this.now, packet);
    this.flush();
  }

  /** Advances virtual time until `done()` or nothing is left to happen; false on a stall. */
  run(done: () => boolean, maxTime = 600_000): boolean {
    this.flush();
    while (!done()) {
      let next = Number.POSITIVE_INFINITY;
      for (const f of this.#inFlight) next = Math.min(next, f.at);
      for (const d of Object.values(this.deadlines)) if (d !== undefined) next = Math.min(next, d);
      if (!Number.isFinite(next) || next > maxTime) return false;
      this.now = Math.max(this.now, next);
      const due = this.#inFlight
        .filter((f) => f.at <= this.now)
        .sort((x, y) => x.at - y.at || x.order - y.order);
      this.#inFlight = this.#inFlight.filter((f) => f.at > this.now);
      for (const f of due) {
        this.stack(f.to).receive(this.now, f.packet);
        this.delivered++;
      }
      this.flush();
    }
    return true;
  }

  get inFlightCount(): number {
    return this.#inFlight.length;
  }
}
