/**
 * The reading of a session's transport counters, on its own: deltas only, one pending request per
 * session, and a scrape that never waits past its deadline on a session that does not answer
 * (the add-on never answers for a session whose QUIC connection is gone).
 */

import { describe, expect, it } from "vitest";
import { readAll, type StatsSource, shared, TransportLossReader } from "../src/transport-losses.js";

/** A session whose counters the test sets; `asked` counts the requests. */
function source(datagrams: Record<string, unknown> = {}) {
  const s = {
    datagrams,
    asked: 0,
    getStats: async () => {
      s.asked++;
      return { datagrams: { ...s.datagrams } };
    },
  };
  return s;
}

/** A session that never answers, like one whose QUIC connection is gone. */
const silent: StatsSource & { asked: number } = {
  asked: 0,
  getStats() {
    silent.asked++;
    return new Promise(() => {});
  },
};

describe("TransportLossReader", () => {
  it("hands over what changed since the last reading, bigints included", async () => {
    const deltas: unknown[] = [];
    const s = source({ expiredOutgoing: 5n, lostOutgoing: 1, droppedIncoming: 0 });
    const reader = new TransportLossReader(s, (d) => deltas.push(d));
    expect(await reader.read()).toEqual({
      expiredToClient: 5,
      lostToClient: 1,
      droppedFromClient: 0,
    });
    s.datagrams = { expiredOutgoing: 7n, lostOutgoing: 1, droppedIncoming: 0 };
    await reader.read();
    // Unchanged: nothing handed over; a smaller or garbled reading takes nothing back.
    await reader.read();
    s.datagrams = { expiredOutgoing: 3, lostOutgoing: "x", droppedIncoming: -2 };
    expect(await reader.read()).toEqual({
      expiredToClient: 7,
      lostToClient: 1,
      droppedFromClient: 0,
    });
    expect(deltas).toEqual([
      { expiredToClient: 5, lostToClient: 1, droppedFromClient: 0 },
      { expiredToClient: 2, lostToClient: 0, droppedFromClient: 0 },
    ]);
  });

  it("keeps the last counts when the session throws or has no datagram stats", async () => {
    const s = source({ expiredOutgoing: 4 });
    const reader = new TransportLossReader(s, () => {});
    await reader.read();
    s.getStats = async () => {
      throw new Error("this.objint not set");
    };
    expect((await reader.read()).expiredToClient).toBe(4);
    const none = new TransportLossReader({}, () => {});
    expect(await none.read()).toEqual({
      expiredToClient: 0,
      lostToClient: 0,
      droppedFromClient: 0,
    });
  });

  it("asks a session that does not answer once, however often it is read", () => {
    silent.asked = 0;
    const reader = new TransportLossReader(silent, () => {});
    for (let i = 0; i < 100; i++) void reader.read();
    expect(silent.asked).toBe(1);
  });
});

describe("readAll", () => {
  it("reads every session, and returns by its deadline past one that never answers", async () => {
    const seen = new Set<number>();
    const answering = Array.from(
      { length: 2_000 },
      (_, i) => new TransportLossReader(source({ expiredOutgoing: 1 }), () => seen.add(i)),
    );
    const stuck = new TransportLossReader(silent, () => {});
    // The silent one holds up one slot until the deadline; the others answer within the call (as
    // the add-on does), so all of them are read before any timer can fire.
    await readAll([answering[0]!, stuck, ...answering.slice(1)], 20);
    expect(seen.size).toBe(2_000);
  });

  it("shares one running read among concurrent callers", async () => {
    let runs = 0;
    let finish = () => {};
    const read = shared(
      () =>
        new Promise<void>((resolve) => {
          runs++;
          finish = resolve;
        }),
    );
    const a = read();
    const b = read();
    expect(a).toBe(b);
    finish();
    await a;
    void read();
    expect(runs).toBe(2);
  });
});
