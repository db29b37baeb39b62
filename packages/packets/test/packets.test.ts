import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildEcho,
  buildUdp,
  checksumsValid,
  echoReply,
  parsePacket,
  protocolOf,
  sum16,
  summarizePacket,
  udpPorts,
} from "../src/index.js";

describe("packets", () => {
  it("builds ICMP and ICMPv6 echo requests with valid checksums, and answers them", () => {
    for (const [source, destination] of [
      ["10.9.0.1", "10.9.0.2"],
      ["fd00::1", "fd00::2"],
    ] as const) {
      const request = buildEcho({
        source,
        destination,
        id: 7,
        sequence: 3,
        data: new Uint8Array([1, 2, 3]),
      });
      expect(checksumsValid(request)).toBe(true);
      expect(parsePacket(request)?.echo).toMatchObject({ type: "request", id: 7, sequence: 3 });
      const reply = echoReply(request)!;
      expect(checksumsValid(reply)).toBe(true);
      const parsed = parsePacket(reply)!;
      expect(parsed).toMatchObject({ source: destination, destination: source });
      expect(parsed.echo).toMatchObject({ type: "reply", id: 7, sequence: 3 });
      expect([...parsed.echo!.data]).toEqual([1, 2, 3]);
      const corrupted = reply.slice();
      corrupted[corrupted.length - 1]! ^= 0x40;
      expect(checksumsValid(corrupted)).toBe(false);
    }
  });

  it("builds UDP with a valid checksum and echoes it with ports swapped", () => {
    const packet = buildUdp({
      source: "10.9.0.1",
      destination: "10.9.0.2",
      sourcePort: 4000,
      destinationPort: 7,
      data: new TextEncoder().encode("hello"),
    });
    expect(checksumsValid(packet)).toBe(true);
    expect(parsePacket(echoReply(packet)!)?.udp).toMatchObject({
      sourcePort: 7,
      destinationPort: 4000,
    });
    expect(summarizePacket(packet)).toBe("UDP 10.9.0.1:4000 → 10.9.0.2:7 len 5");
  });

  it("writes the exact bytes of an IPv4 echo request (checksums worked out by hand)", () => {
    const request = buildEcho({ source: "10.0.0.1", destination: "10.0.0.2", id: 1, sequence: 1 });
    expect(Buffer.from(request).toString("hex")).toBe(
      "4500001c000000004001" + "66df" + "0a0000010a000002" + "0800f7fd00010001",
    );
  });

  it.each([
    ["IPv4", "10.88.0.2", "10.88.0.1"],
    ["IPv6", "fd88::2", "fd88::1"],
  ])(
    "%s: a flipped bit anywhere after the addresses breaks a checksum",
    (_name, source, destination) => {
      const packet = buildUdp({
        source,
        destination,
        sourcePort: 9,
        destinationPort: 7,
        data: new Uint8Array([1, 2, 3]),
      });
      const from = source.includes(":") ? 40 : 20;
      for (let i = from; i < packet.length; i++) {
        const corrupt = packet.slice();
        corrupt[i]! ^= 0x10;
        expect(checksumsValid(corrupt), `byte ${i}`).toBe(false);
      }
    },
  );

  it("summarizes", () => {
    expect(summarizePacket(new Uint8Array(0))).toBe("keepalive");
    expect(
      summarizePacket(
        buildEcho({ source: "10.0.0.1", destination: "10.0.0.2", id: 3, sequence: 1 }),
      ),
    ).toBe("ICMP echo request 10.0.0.1 → 10.0.0.2 id 3 seq 1");
  });

  it("answers exactly as the reply built from what parsePacket reads (any packet, any byte changed)", () => {
    /** The echo server written on parsePacket and the builders, as the reference. */
    function reference(packet: Uint8Array): Uint8Array | null {
      const parsed = parsePacket(packet);
      if (!parsed) return null;
      const back = { source: parsed.destination, destination: parsed.source };
      if (parsed.echo?.type === "request") {
        const { id, sequence, data } = parsed.echo;
        return buildEcho({ ...back, id, sequence, data, reply: true });
      }
      if (!parsed.udp) return null;
      const { sourcePort, destinationPort, data } = parsed.udp;
      return buildUdp({ ...back, sourcePort: destinationPort, destinationPort: sourcePort, data });
    }
    const v4 = fc.ipV4();
    const v6 = fc.ipV6().filter((a) => !a.includes("."));
    const pair = fc.oneof(fc.tuple(v4, v4), fc.tuple(v6, v6));
    const data = fc.uint8Array({ maxLength: 64 });
    const port = fc.integer({ min: 0, max: 0xffff });
    const packet = fc.oneof(
      fc
        .tuple(pair, port, port, data)
        .map(([[source, destination], sourcePort, destinationPort, data]) =>
          buildUdp({ source, destination, sourcePort, destinationPort, data }),
        ),
      fc
        .tuple(pair, port, port, data, fc.boolean())
        .map(([[source, destination], id, sequence, data, reply]) =>
          buildEcho({ source, destination, id, sequence, data, reply }),
        ),
    );
    const changed = fc
      .tuple(packet, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean())
      .map(([p, at, value, change]) => {
        if (change) p[at % p.length] = value;
        return p;
      });
    fc.assert(
      fc.property(fc.oneof(changed, fc.uint8Array({ maxLength: 120 })), (p) => {
        expect(echoReply(p)).toEqual(reference(p));
      }),
      { numRuns: 5000 },
    );
  });

  it("never throws on garbage", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        parsePacket(bytes);
        echoReply(bytes);
        summarizePacket(bytes);
        checksumsValid(bytes);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("demo addressing", () => {
  it("gives each client key stable addresses distinct from the server's", async () => {
    const { demoClientAddresses, DEMO_SERVER_V4, DEMO_SERVER_V6 } = await import("../src/demo.js");
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const key = new Uint8Array(32).fill(i);
      const a = demoClientAddresses(key);
      expect(a).toEqual(demoClientAddresses(key));
      expect(a.v4).toMatch(/^10\.99\.\d+\.\d+$/);
      expect(a.v4).not.toBe(DEMO_SERVER_V4);
      expect(a.v6.startsWith("fd99::")).toBe(true);
      expect(a.v6).not.toBe(DEMO_SERVER_V6);
      seen.add(a.v6);
    }
    expect(seen.size).toBe(200);
  });
});

describe("sum16", () => {
  /** RFC 1071's sum, two bytes at a time, as the reference. */
  function reference(bytes: Uint8Array, start: number, end: number, initial: number): number {
    let sum = initial;
    for (let i = start; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
    if ((end - start) % 2 === 1) sum += bytes[end - 1]! << 8;
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
    return sum;
  }

  it("equals RFC 1071's two-bytes-at-a-time sum for any range, length and offset", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 0x3ffff }),
        fc.nat({ max: 7 }),
        (data, a, b, initial, shift) => {
          // A view at an odd byte offset of its buffer, as a parsed packet's payload may be.
          const buffer = new Uint8Array(data.length + shift);
          buffer.set(data, shift);
          const bytes = buffer.subarray(shift);
          const start = data.length === 0 ? 0 : a % (data.length + 1);
          const end = start + (data.length === 0 ? 0 : b % (data.length - start + 1));
          expect(sum16(bytes, start, end, initial)).toBe(reference(bytes, start, end, initial));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("protocolOf and udpPorts read what parsePacket reads, on any bytes and on mangled packets", () => {
    const agree = (bytes: Uint8Array) => {
      const parsed = parsePacket(bytes);
      expect(protocolOf(bytes)).toBe(parsed ? parsed.protocolNumber : -1);
      const udp = parsed?.udp;
      expect(udpPorts(bytes)).toBe(udp ? udp.sourcePort * 65536 + udp.destinationPort : -1);
    };
    const udp4 = buildUdp({
      source: "10.9.0.1",
      destination: "10.9.0.2",
      sourcePort: 40_000,
      destinationPort: 7,
      data: new Uint8Array(30),
    });
    const udp6 = buildUdp({
      source: "fd00::1",
      destination: "fd00::2",
      sourcePort: 65_535,
      destinationPort: 53,
      data: new Uint8Array(3),
    });
    const echo = buildEcho({ source: "10.9.0.1", destination: "10.9.0.2", id: 1, sequence: 2 });
    expect(udpPorts(udp4)).toBe(40_000 * 65536 + 7);
    expect(protocolOf(echo)).toBe(1);
    fc.assert(
      fc.property(
        fc.constantFrom(udp4, udp6, echo),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (packet, changes, cut) => {
          const bytes = packet.slice(0, packet.length - (cut % 4 === 0 ? cut % 30 : 0));
          for (const [at, value] of changes) bytes[at % bytes.length] = value;
          agree(bytes);
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), agree), { numRuns: 500 });
  });
});
