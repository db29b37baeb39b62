import { describe, expect, it } from "vitest";
import { buildIpPacket, PROTO_ICMP } from "../src/ip.js";
import { A4, B4, B6, Pair } from "./pair.js";
import { firstDifference, pattern, startTransfer } from "./transfer.js";

describe("TCP between two stacks in virtual time", () => {
  for (const host of [B4, B6]) {
    it(`transfers 1 MB and closes cleanly over IPv${host.includes(":") ? 6 : 4}`, () => {
      const pair = new Pair({ delay: 10 });
      const data = pattern(1 << 20);
      const t = startTransfer(pair, data, host);
      expect(pair.run(() => t.closed.a !== undefined && t.closed.b !== undefined)).toBe(true);
      expect(firstDifference(t.bytes(), data)).toBe(-1);
      expect(t.closed).toEqual({ a: {}, b: {} });
      expect(t.client.state).toBe("closed");
      // The client closed first, so it went through TIME-WAIT (60 s) before leaving the table.
      expect(pair.now).toBeGreaterThanOrEqual(60_000);
      expect(pair.a.tcp.connectionCount).toBe(0);
      expect(pair.b.tcp.connectionCount).toBe(0);
    });
  }

  it("refuses a connection to a closed port with a RST (typed error 'refused')", () => {
    const pair = new Pair();
    const s = pair.a.connect(0, { host: B4, port: 81 });
    let error: string | undefined;
    pair.onEvent = (_side, e) => {
      if (e.type === "tcp-closed") error = e.error;
    };
    expect(pair.run(() => error !== undefined)).toBe(true);
    expect(error).toBe("refused");
    expect(s.state).toBe("closed");
    expect(pair.b.stats.resetsSent).toBe(1);
    expect(pair.now).toBeLessThan(100);
  });

  it("times out a connection to a silent host after the SYN retries", () => {
    const pair = new Pair({ loss: 1 });
    pair.a.connect(0, { host: B4, port: 80 });
    let error: string | undefined;
    pair.onEvent = (_side, e) => {
      if (e.type === "tcp-closed") error = e.error;
    };
    expect(pair.run(() => error !== undefined, 10_000_000)).toBe(true);
    expect(error).toBe("timed-out");
    // 1 + 2 + 4 + 8 + 16 + 32 + 60 s of backoff (RFC 6298 §5.5, capped at 60 s).
    expect(pair.now).toBe(1000 + 2000 + 4000 + 8000 + 16000 + 32000 + 60000);
  });

  it("answers ping on both families", () => {
    const pair = new Pair();
    const replies: string[] = [];
    pair.onEvent = (side, e) => {
      if (e.type === "echo-reply" && side === "a") replies.push(`${e.from} ${e.id} ${e.sequence}`);
    };
    pair.a.ping(B4, 7, 1, pattern(32));
    pair.a.ping(B6, 7, 2);
    pair.run(() => replies.length === 2);
    expect(replies).toEqual([`${B4} 7 1`, `${B6} 7 2`]);
  });

  it("carries UDP datagrams to a bound port and counts those for unbound ports", () => {
    const pair = new Pair();
    const got: string[] = [];
    pair.onEvent = (side, e) => {
      if (e.type === "udp" && side === "b")
        got.push(`${e.from}:${e.fromPort}>${e.port} ${e.data.length}`);
    };
    pair.b.udp.bind(53);
    const port = pair.a.udp.bind();
    pair.a.udpSend(port, B4, 53, pattern(100));
    pair.a.udpSend(port, B4, 54, pattern(10));
    pair.run(() => pair.inFlightCount === 0);
    expect(got).toEqual([`${A4}:${port}>53 100`]);
    expect(pair.b.stats.noSocket).toBe(1);
  });
});

describe("ICMP errors for TCP", () => {
  it("fails a connect with 'unreachable' when an ICMP destination unreachable quotes our SYN", () => {
    const pair = new Pair({
      // The path answers our SYN with ICMP host unreachable (type 3, code 1), as a router would.
      tamper: (p, from) => {
        if (from !== "a") return p;
        const quote = p.subarray(0, 28);
        const icmp = buildIpPacket(
          4,
          B4,
          A4,
          PROTO_ICMP,
          8 + quote.length,
          (q, o) => {
            q[o] = 3;
            q[o + 1] = 1;
            q.set(quote, o + 8);
          },
          2,
        );
        pair.inject("a", icmp);
        return undefined;
      },
    });
    let error: string | undefined;
    pair.onEvent = (_s, e) => {
      if (e.type === "tcp-closed") error = e.error;
    };
    pair.a.connect(0, { host: B4, port: 80 });
    expect(pair.run(() => error !== undefined)).toBe(true);
    expect(error).toBe("unreachable");
    expect(pair.now).toBe(0);
  });

  it("ignores an ICMP error whose quoted sequence number is not in flight (RFC 5927)", () => {
    const pair = new Pair({
      tamper: (p, from) => {
        if (from !== "a") return p;
        const quote = p.slice(0, 28);
        quote[24]! ^= 0x80; // a blind attacker does not know our ISN
        pair.inject(
          "a",
          buildIpPacket(
            4,
            B4,
            A4,
            PROTO_ICMP,
            8 + quote.length,
            (q, o) => {
              q[o] = 3;
              q[o + 1] = 1;
              q.set(quote, o + 8);
            },
            2,
          ),
        );
        return p;
      },
    });
    pair.b.listen(80);
    let connected = false;
    pair.onEvent = (_s, e) => {
      if (e.type === "tcp-connected") connected = true;
    };
    pair.a.connect(0, { host: B4, port: 80 });
    expect(pair.run(() => connected)).toBe(true);
  });

  it("accepts its addresses in any valid spelling", () => {
    const pair = new Pair({}, {}, { addresses: ["10.0.0.2", "FD00:0::0002"] });
    let replied = false;
    pair.onEvent = (_s, e) => {
      if (e.type === "echo-reply") replied = true;
    };
    pair.a.ping("fd00::2", 1, 1);
    expect(pair.run(() => replied)).toBe(true);
  });
});
