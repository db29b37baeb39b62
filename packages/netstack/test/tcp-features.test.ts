/** Each TCP feature of the issue, observed on the wire between two stacks in virtual time. */
import { describe, expect, it } from "vitest";
import type { Connection } from "../src/tcp/connection.js";
import { ACK, FIN, SYN } from "../src/tcp/segment.js";
import { B4, Pair } from "./pair.js";
import { tapped } from "./tap.js";
import { concat, firstDifference, pattern, startTransfer } from "./transfer.js";

function connected(pair: Pair) {
  pair.b.listen(80);
  const client = pair.a.connect(pair.now, { host: B4, port: 80 }) as Connection;
  let server: Connection | undefined;
  const got: Uint8Array[] = [];
  pair.onEvent = (side, e) => {
    if (e.type === "tcp-accepted") server = e.socket as Connection;
    if (e.type === "tcp-readable" && side === "b") got.push(e.socket.read());
  };
  pair.run(() => server !== undefined);
  return { client, server: server!, got };
}

describe("TCP features", () => {
  it("negotiates MSS from the MTU, window scaling, SACK and timestamps in the handshake", () => {
    const { pair, seen } = tapped({}, undefined, {});
    const p6 = new Pair({}, { mtu: 1280 }, { mtu: 1420 });
    connected(pair);
    const syn = seen[0]!.seg;
    const synAck = seen[1]!.seg;
    expect(syn.flags).toBe(SYN);
    // The default 1 MiB receive buffer needs a shift of 5 to be advertised whole (RFC 7323 §2.3).
    expect(syn.options).toMatchObject({ mss: 1380, windowScale: 5, sackPermitted: true });
    expect(syn.options.timestamp).toBeDefined();
    expect(synAck.flags).toBe(SYN | ACK);
    expect(synAck.options).toMatchObject({ mss: 1380, windowScale: 5, sackPermitted: true });
    expect(synAck.options.timestamp?.echo).toBe(syn.options.timestamp?.value);
    // The side with the smaller MTU bounds both directions (RFC 6691), less 12 bytes of timestamps.
    p6.b.listen(80);
    const c = p6.a.connect(0, { host: "fd00::2", port: 80 }) as Connection;
    let s: Connection | undefined;
    p6.onEvent = (_side, e) => {
      if (e.type === "tcp-accepted") s = e.socket as Connection;
    };
    p6.run(() => s !== undefined);
    expect(c.mss).toBe(1280 - 60 - 12);
    expect(s!.mss).toBe(1280 - 60 - 12);
    expect(c.sndScale).toBe(5);
  });

  it("measures RTT from timestamps and rejects an old duplicate by PAWS", () => {
    const { pair, seen } = tapped({ delay: 50 });
    const { client, got } = connected(pair);
    client.write(pattern(5000));
    pair.run(() => client.unacknowledged === 0);
    expect(client.rtt.srtt).toBeGreaterThanOrEqual(99);
    expect(client.rtt.srtt).toBeLessThan(150);
    pair.now += 1000;
    client.write(pattern(10));
    pair.run(() => client.unacknowledged === 0);
    // A copy of the first data segment arrives late: its timestamp is older than TS.Recent.
    const first = seen.find((s) => s.from === "a" && s.seg.data.length > 0)!;
    const before = pair.b.stats.pawsRejected;
    const received = concat(got).length;
    pair.inject("b", first.packet);
    expect(pair.b.stats.pawsRejected).toBe(before + 1);
    expect(concat(got).length).toBe(received);
  });

  it("reports out-of-order data in SACK blocks and recovers by fast retransmit, not by timeout", () => {
    // Drop the client's 3rd data segment once.
    let dataSeen = 0;
    const { pair, seen } = tapped(
      { delay: 20 },
      (s) => s.from === "a" && s.seg.data.length > 0 && ++dataSeen === 3,
    );
    const data = pattern(100_000);
    const t = startTransfer(pair, data);
    expect(pair.run(() => t.closed.a !== undefined && t.closed.b !== undefined)).toBe(true);
    expect(firstDifference(t.bytes(), data)).toBe(-1);
    const sacks = seen.filter((s) => s.from === "b" && s.seg.options.sack);
    expect(sacks.length).toBeGreaterThanOrEqual(3);
    const lost = seen.filter((s) => s.from === "a" && s.seg.data.length > 0)[2]!.seg;
    // The first SACK block starts right after the hole.
    expect(sacks[0]!.seg.ack).toBe(lost.seq);
    expect(sacks[0]!.seg.options.sack![0]!.left).toBe((lost.seq + lost.data.length) >>> 0);
    // Retransmitted after the third duplicate ACK, about one round trip later, not after an RTO.
    const resent = seen.filter(
      (s) => s.from === "a" && s.seg.seq === lost.seq && s.seg.data.length > 0,
    );
    expect(resent.length).toBe(2);
    expect(resent[1]!.at - resent[0]!.at).toBeLessThan(100);
    expect(t.client instanceof Object && (t.client as Connection).cc.inRecovery).toBe(false);
  });

  it("delays the ACK of a lone segment by 40 ms and acknowledges every second full segment at once", () => {
    const { pair, seen } = tapped({ delay: 10 });
    const { client, server } = connected(pair);
    server.quickAcks = 0;
    client.setNoDelay(true);
    client.write(pattern(100));
    const sentAt = pair.now;
    pair.run(() => client.unacknowledged === 0);
    const ack = seen.filter((s) => s.from === "b" && s.seg.flags === ACK).at(-1)!;
    expect(ack.at - sentAt).toBe(10 + 40);
    const mark = seen.length;
    client.write(pattern(2 * client.mss));
    pair.run(() => client.unacknowledged === 0);
    const acks = seen.slice(mark).filter((s) => s.from === "b");
    expect(acks.length).toBe(1);
    expect(acks[0]!.at - pair.now).toBeLessThanOrEqual(0);
    expect(acks[0]!.at).toBeLessThan(sentAt + 100 + 40);
  });

  it("coalesces small writes while data is unacknowledged (Nagle), unless noDelay", () => {
    for (const noDelay of [false, true]) {
      const { pair, seen } = tapped({ delay: 10 });
      const { client, got } = connected(pair);
      client.setNoDelay(noDelay);
      const mark = seen.length;
      for (let i = 0; i < 10; i++) {
        client.write(pattern(10, i));
        pair.flush();
      }
      pair.run(() => concat(got).length === 100);
      const segments = seen.slice(mark).filter((s) => s.from === "a" && s.seg.data.length > 0);
      expect(segments.length).toBe(noDelay ? 10 : 2);
    }
  });

  it("keepalive probes an idle connection, keeps a live one and times out a dead one", () => {
    const { pair, seen } = tapped({ delay: 10 });
    const { client } = connected(pair);
    client.setKeepAlive({ idle: 10_000, interval: 1000, count: 3 });
    pair.flush();
    const start = pair.now;
    pair.run(() => pair.now > start + 35_000, start + 35_001);
    const probes = seen.filter((s) => s.from === "a" && s.at > start && s.seg.flags === ACK);
    expect(probes.length).toBe(3); // one per idle period, each answered
    expect(client.state).toBe("established");
    // The peer vanishes: three unanswered probes, then "timed-out".
    pair.link.loss = 1;
    let error: string | undefined;
    pair.onEvent = (_s, e) => {
      if (e.type === "tcp-closed") error = e.error;
    };
    pair.run(() => error !== undefined, pair.now + 20_000);
    expect(error).toBe("timed-out");
  });

  it("keeps the closing side in TIME-WAIT for 2 MSL, then frees the tuple", () => {
    const { pair, seen } = tapped({ delay: 10 });
    const t = startTransfer(pair, pattern(10));
    pair.run(() => t.client.state === "time-wait");
    const entered = pair.now;
    expect(pair.a.tcp.connectionCount).toBe(1);
    pair.run(() => pair.a.tcp.connectionCount === 0);
    expect(pair.now - entered).toBeGreaterThanOrEqual(60_000);
    expect(seen.filter((s) => s.seg.flags & FIN).length).toBe(2);
  });

  it("chooses ISNs from a keyed hash of the tuple plus a 4 µs clock (RFC 6528)", () => {
    const pair = new Pair();
    pair.b.listen(80);
    const isns = [1, 2, 3].map(
      (i) => (pair.a.connect(0, { host: B4, port: 80, localPort: 40000 + i }) as Connection).iss,
    );
    expect(new Set(isns).size).toBe(3);
    const again = new Pair();
    const same = (again.a.connect(0, { host: B4, port: 80, localPort: 40001 }) as Connection).iss;
    expect(same).toBe(isns[0]); // same random source, same tuple, same time: reproducible
    const later = (
      new Pair().a.connect(1000, { host: B4, port: 80, localPort: 40001 }) as Connection
    ).iss;
    expect(later).toBe((isns[0]! + 250_000) >>> 0); // M advances every 4 µs
    const other = new Pair({}, { random: () => new Uint8Array(32).fill(7) });
    const keyed = (other.a.connect(0, { host: B4, port: 80, localPort: 40001 }) as Connection).iss;
    expect(keyed).not.toBe(isns[0]); // a different secret gives a different ISN
  });
});
