/**
 * Datagrams the relay's own transport loses after the relay handed them over: quiche discards a
 * datagram that waited too long in its QUIC send queue (expired) and counts the ones QUIC declared
 * lost. The library session's `getStats()` reports both per session (per QUIC connection: one
 * session each); this reads them on a stats request, at metrics scrape time and on the relay's
 * idle sweep (one timer for all sessions), and when the relay closes a session, and hands each
 * change to the relay-wide counters. A session its client closed cannot be read any more: the
 * add-on lets go of its native session before it tells JavaScript, so what changed since the last
 * reading (at most one sweep interval) is not seen.
 */

import type { RelayTransportLosses } from "@wiregate/relay-protocol";

/** What the relay uses of the library session for this: `getStats().datagrams`. */
export interface StatsSource {
  getStats?(): Promise<{ datagrams?: Record<string, unknown> } | undefined>;
}

export const NO_LOSSES: Readonly<RelayTransportLosses> = Object.freeze({
  expiredToClient: 0,
  lostToClient: 0,
  droppedFromClient: 0,
});

/** The counters in one reading (the add-on hands quiche's uint64 over as numbers or bigints). */
function lossesOf(
  datagrams: Record<string, unknown> | undefined,
): RelayTransportLosses | undefined {
  if (!datagrams) return undefined;
  const count = (value: unknown) => {
    const n = Number(value ?? 0);
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  };
  return {
    expiredToClient: count(datagrams.expiredOutgoing),
    lostToClient: count(datagrams.lostOutgoing),
    droppedFromClient: count(datagrams.droppedIncoming),
  };
}

/** One session's readings; each change since the previous reading goes to `onChange`. */
export class TransportLossReader {
  #latest: RelayTransportLosses = { ...NO_LOSSES };
  #reading: Promise<RelayTransportLosses> | undefined;

  constructor(
    readonly source: StatsSource,
    readonly onChange: (delta: RelayTransportLosses) => void,
  ) {}

  /** The counters as last read. */
  get latest(): RelayTransportLosses {
    return { ...this.#latest };
  }

  /**
   * Asks the session now (the add-on answers within the call, so this works right before the
   * session is closed) and settles with the counters once the answer is in. A session whose
   * QUIC connection is already gone never answers: callers bound their wait (see `withDeadline`).
   * Concurrent reads of one session share one request.
   */
  read(): Promise<RelayTransportLosses> {
    this.#reading ??= this.#ask().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #ask(): Promise<RelayTransportLosses> {
    let stats: Awaited<ReturnType<NonNullable<StatsSource["getStats"]>>>;
    try {
      stats = await this.source.getStats?.();
    } catch {
      return this.latest; // The library throws once its native session is gone.
    }
    const now = lossesOf(stats?.datagrams);
    if (now) this.#update(now);
    return this.latest;
  }

  #update(now: RelayTransportLosses): void {
    const was = this.#latest;
    // Counters only grow; a smaller reading (never seen) must not take counts back.
    const delta = {
      expiredToClient: Math.max(0, now.expiredToClient - was.expiredToClient),
      lostToClient: Math.max(0, now.lostToClient - was.lostToClient),
      droppedFromClient: Math.max(0, now.droppedFromClient - was.droppedFromClient),
    };
    this.#latest = {
      expiredToClient: was.expiredToClient + delta.expiredToClient,
      lostToClient: was.lostToClient + delta.lostToClient,
      droppedFromClient: was.droppedFromClient + delta.droppedFromClient,
    };
    if (delta.expiredToClient + delta.lostToClient + delta.droppedFromClient > 0)
      this.onChange(delta);
  }
}

/** Waits for `work` at most `ms`; one timer for the whole wait, however many reads it covers. */
export async function withDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref?.();
  });
  try {
    await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sessions a scrape asks at once: each answered one lets the next be asked. */
export const SCRAPE_CONCURRENCY = 512;

/**
 * Reads every reader, at most `SCRAPE_CONCURRENCY` at once, and returns within `ms` at most: a
 * scrape costs one native call per open session, and a session that does not answer holds up
 * one slot, not the scrape.
 */
export async function readAll(readers: Iterable<TransportLossReader>, ms: number): Promise<void> {
  const all = [...readers];
  let next = 0;
  const askInTurn = async () => {
    while (next < all.length) await all[next++]?.read();
  };
  const slots = Math.min(SCRAPE_CONCURRENCY, all.length);
  await withDeadline(Promise.all(Array.from({ length: slots }, askInTurn)), ms);
}

/** `work`, run once at a time: callers while it runs share the running one. */
export function shared(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= work().finally(() => {
      running = undefined;
    });
    return running;
  };
}
