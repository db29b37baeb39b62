import { parseIpv6 } from "@wiregate/core";
import { afterAll, describe, expect, it } from "vitest";
import { formatIPv6 } from "../src/address.js";
import { buildUdpPacket } from "../src/build.js";
import type { DecodedFrame } from "../src/decoded.js";
import { decodeFrame, UdpDecoder } from "../src/decoder.js";
import { readCaptureBytes } from "../src/reader.js";
import { PcapngWriter } from "../src/writer.js";
import {
  concat,
  ethernet,
  fragmentIPv4,
  fragmentIPv6,
  linuxSll,
  linuxSll2,
  loopback,
  packets,
  scratchDir,
  tsharkRows,
  udp4,
  udp6,
  withIPv6Extensions,
  writeTemp,
} from "./helpers.js";

const payload = Uint8Array.from({ length: 48 }, (_, i) => i);
const big = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);

function reasonOf(result: DecodedFrame): string {
  return result.kind === "udp" ? "udp" : result.reason;
}

function udpOf(result: DecodedFrame) {
  if (result.kind !== "udp") throw new Error(`expected udp, got ${result.kind}: ${result.reason}`);
  return result;
}

/** One frame per case: [label, linkType, frame, ip version]. */
const cases: [string, number, Uint8Array, 4 | 6][] = [
  ["ethernet ipv4", 1, ethernet(udp4(payload)), 4],
  ["ethernet ipv6", 1, ethernet(udp6(payload)), 6],
  ["ethernet 802.1Q", 1, ethernet(udp4(payload), [0x8100]), 4],
  ["ethernet 802.1ad QinQ", 1, ethernet(udp6(payload), [0x88a8, 0x8100]), 6],
  ["linux sll", 113, linuxSll(udp4(payload)), 4],
  ["linux sll2", 276, linuxSll2(udp6(payload)), 6],
  ["raw ip v4", 101, udp4(payload), 4],
  ["raw ip v6", 101, udp6(payload), 6],
  ["raw ipv4", 228, udp4(payload), 4],
  ["raw ipv6", 229, udp6(payload), 6],
  ["null little-endian", 0, loopback(udp4(payload), 2, true), 4],
  ["null big-endian v6 (darwin)", 0, loopback(udp6(payload), 30, false), 6],
  ["openbsd loop v6", 108, loopback(udp6(payload), 24, false), 6],
  [
    "ipv6 hop-by-hop, routing, destination options",
    101,
    withIPv6Extensions(udp6(payload), [0, 43, 60]),
    6,
  ],
];

describe("decoding frames to UDP", () => {
  const scratch = scratchDir();
  afterAll(scratch.cleanup);

  it.each(cases)("%s", (_label, linkType, frame, version) => {
    const udp = udpOf(decodeFrame(linkType, frame));
    expect(udp.ipVersion).toBe(version);
    expect(udp.src).toEqual({ address: version === 4 ? "10.0.0.1" : "fd00::1", port: 51820 });
    expect(udp.dst).toEqual({ address: version === 4 ? "10.0.0.2" : "fd00::2", port: 51821 });
    expect(udp.payload).toEqual(payload);
    expect(udp.reassembled).toBe(false);
  });

  it("agrees with tshark on every link type (one pcapng, one interface per case)", async () => {
    const writer = new PcapngWriter();
    const chunks = cases.map(([, linkType]) => writer.addInterface({ linkType }));
    cases.forEach(([, , frame], i) => {
      chunks.push(
        writer.writePacket({ interfaceId: i, timestampNs: BigInt(i) * 1000n, data: frame }),
      );
    });
    const path = writeTemp(scratch.dir, "links.pcapng", chunks);
    const rows = await tsharkRows(
      path,
      ["frame.number", "udp.srcport", "udp.dstport", "udp.length"],
      { displayFilter: "frame" },
    );
    expect(rows).toEqual(
      cases.map((_, i) => [String(i + 1), "51820", "51821", String(8 + payload.length)]),
    );
    // and our reader + decoder produce the same from the same file
    const decoder = new UdpDecoder();
    const ours = packets([...readCaptureBytes(concat(chunks))]).map((r) =>
      udpOf(decoder.decodeRecord(r)),
    );
    expect(ours.map((u) => [u.src.port, u.dst.port, u.payload.length + 8])).toEqual(
      rows.map((r) => [51820, 51821, Number(r[3])]),
    );
  });

  it("skips IPv4 options and Ethernet padding", () => {
    const plain = udp4(new Uint8Array([9, 9]));
    const withOptions = concat([
      plain.subarray(0, 20),
      new Uint8Array([1, 1, 1, 0]),
      plain.subarray(20),
    ]);
    withOptions[0] = 0x46;
    new DataView(withOptions.buffer).setUint16(2, withOptions.length);
    const padded = concat([ethernet(withOptions), new Uint8Array(20)]); // short frame + padding + FCS
    const udp = udpOf(decodeFrame(1, padded));
    expect(udp.payload).toEqual(new Uint8Array([9, 9]));
  });

  it("reports non-UDP and malformed frames with reasons", () => {
    const tcp = udp4(payload);
    tcp[9] = 6;
    expect(decodeFrame(101, tcp)).toEqual({ kind: "not-udp", reason: "ipv4: TCP (protocol 6)" });
    const arp = ethernet(udp4(payload));
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(decodeFrame(1, arp)).toEqual({
      kind: "not-udp",
      reason: "ethernet: EtherType 0x0806 is not IP",
    });
    const esp = udp6(payload);
    esp[6] = 50;
    expect(decodeFrame(229, esp)).toEqual({
      kind: "not-udp",
      reason: "ipv6: ESP (encrypted payload)",
    });
    esp[6] = 59;
    expect(decodeFrame(229, esp)).toEqual({ kind: "not-udp", reason: "ipv6: no next header" });
    expect(reasonOf(decodeFrame(9999, esp))).toBe("link type 9999 is not supported");
    expect(decodeFrame(0, loopback(udp4(payload), 7, true)).kind).toBe("not-udp");

    const cut = udp4(payload).subarray(0, 30);
    expect(decodeFrame(101, cut)).toEqual({
      kind: "malformed",
      reason: "ipv4: total length 76 exceeds the 30 bytes captured",
    });
    const badUdpLength = udp4(payload);
    new DataView(badUdpLength.buffer).setUint16(24, 4);
    expect(reasonOf(decodeFrame(101, badUdpLength))).toBe(
      "udp: length field 4 is less than the 8-byte header",
    );
    new DataView(badUdpLength.buffer).setUint16(24, 500);
    expect(reasonOf(decodeFrame(101, badUdpLength))).toBe(
      "udp: length field 500 exceeds the 56 bytes the IP layer carries",
    );
    const shortUdp = udp4(payload);
    new DataView(shortUdp.buffer).setUint16(24, 10); // UDP shorter than IP: payload trimmed to it
    expect(udpOf(decodeFrame(101, shortUdp)).payload).toEqual(payload.subarray(0, 2));
    expect(decodeFrame(1, new Uint8Array(10)).kind).toBe("malformed");
    expect(decodeFrame(1, ethernet(udp4(payload), [0x8100]).subarray(0, 16)).kind).toBe(
      "malformed",
    );
    const badExtension = withIPv6Extensions(udp6(payload), [0]);
    badExtension[41] = 200; // hop-by-hop claims 1608 bytes
    expect(reasonOf(decodeFrame(229, badExtension))).toContain("runs past the payload");
  });

  it("reassembles IPv4 fragments in any order, and reports them without reassembly", () => {
    const whole = buildUdpPacket({
      src: { address: "10.0.0.1", port: 1 },
      dst: { address: "10.0.0.2", port: 2 },
      payload: big,
      identification: 77,
    });
    const fragments = fragmentIPv4(whole, 1480);
    expect(fragments).toHaveLength(3);
    for (const order of [
      [0, 1, 2],
      [2, 0, 1],
      [1, 2, 0],
    ]) {
      const decoder = new UdpDecoder();
      const results = order.map((i) => decoder.decode(101, fragments[i]!, 1));
      expect(results.slice(0, 2).map((r) => r.kind)).toEqual(["fragment", "fragment"]);
      const udp = udpOf(results[2]!);
      expect(udp.reassembled).toBe(true);
      expect(udp.payload).toEqual(big);
      expect(decoder.reassemblyStats.completed).toBe(1);
    }
    const off = new UdpDecoder({ reassemble: false });
    expect(off.decode(101, fragments[1]!)).toEqual({
      kind: "fragment",
      reason: "ipv4 10.0.0.1 → 10.0.0.2 id 77: fragment at offset 1480 (reassembly off)",
    });
    expect(decodeFrame(101, fragments[0]!).kind).toBe("fragment");
  });

  it("reassembles IPv6 fragments (after extension headers) and agrees with tshark", async () => {
    const whole = udp6(big);
    const fragments = fragmentIPv6(whole, 1232);
    const decoder = new UdpDecoder();
    const results = [fragments[2]!, fragments[0]!, fragments[1]!].map((f) =>
      decoder.decode(229, f, 5),
    );
    expect(results.map((r) => r.kind)).toEqual(["fragment", "fragment", "udp"]);
    expect(udpOf(results[2]!).payload).toEqual(big);

    const v4 = fragmentIPv4(udp4(big, 51820, 51821, 9), 1480);
    const writer = new PcapngWriter();
    const chunks = [writer.addInterface({ linkType: 101 })];
    for (const [i, data] of [...fragments, ...v4].entries()) {
      chunks.push(writer.writePacket({ timestampNs: BigInt(i), data }));
    }
    const path = writeTemp(scratch.dir, "fragments.pcapng", chunks);
    const rows = await tsharkRows(path, ["frame.number", "udp.length"], { displayFilter: "udp" });
    const ours = new UdpDecoder();
    const complete = packets([...readCaptureBytes(concat(chunks))]).flatMap((r) => {
      const d = ours.decodeRecord(r);
      return d.kind === "udp" ? [[String(r.index), String(d.payload.length + 8)]] : [];
    });
    expect(complete).toEqual(rows);
    expect(complete).toEqual([
      ["3", String(big.length + 8)],
      ["6", String(big.length + 8)],
    ]);
  });

  it("bounds reassembly: timeout by capture time, count limit, overlaps", () => {
    const fragmentsOf = (id: number) => fragmentIPv4(udp4(big, 1, 2, id), 1480);
    const timed = new UdpDecoder({ timeoutSeconds: 10 });
    const a = fragmentsOf(1);
    timed.decode(101, a[0]!, 100);
    timed.decode(101, a[1]!, 105);
    expect(timed.decode(101, a[2]!, 111).kind).toBe("fragment"); // first part expired at 111
    expect(timed.reassemblyStats.expired).toBe(1);

    const limited = new UdpDecoder({ maxDatagrams: 2 });
    for (const id of [1, 2, 3]) limited.decode(101, fragmentsOf(id)[0]!, 0);
    expect(limited.reassemblyStats.evicted).toBe(1);
    const d1 = fragmentsOf(1);
    expect(limited.decode(101, d1[1]!, 0).kind).toBe("fragment");
    expect(limited.decode(101, d1[2]!, 0).kind).toBe("fragment"); // id 1 was evicted: incomplete
    const d3 = fragmentsOf(3);
    expect(limited.decode(101, d3[1]!, 0).kind).toBe("fragment");
    expect(limited.decode(101, d3[2]!, 0).kind).toBe("udp");

    const overlapping = new UdpDecoder();
    const b = fragmentsOf(5);
    overlapping.decode(101, b[0]!, 0);
    expect(reasonOf(overlapping.decode(101, b[0]!, 0))).toContain("duplicate");
    const shifted = b[1]!.slice();
    new DataView(shifted.buffer).setUint16(6, 0x2000 | (1472 / 8));
    expect(overlapping.decode(101, shifted, 0)).toMatchObject({ kind: "malformed" });
    expect(overlapping.reassemblyStats.rejected).toBe(1);
  });

  it("formats IPv6 text canonically", () => {
    const bytes = (s: string) => {
      const parsed = parseIpv6(s);
      if (!parsed.ok) throw new Error(parsed.error);
      return parsed.bytes;
    };
    const text = (s: string) => formatIPv6(bytes(s), 0);
    expect(text("2001:0db8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(text("2001:db8:0:1:0:0:0:1")).toBe("2001:db8:0:1::1");
    expect(text("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(text("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(text("::")).toBe("::");
    expect(text("::ffff:10.1.2.3")).toBe("::ffff:10.1.2.3");
  });
});
