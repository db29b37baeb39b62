import { describe, expect, it } from "vitest";
import {
  answerEcho,
  answerUdpEcho,
  buildEchoRequest,
  buildUdp,
  formatAddress,
  internetChecksum,
  parseAddress,
  parseEcho,
  parseIp,
  parseUdp,
} from "./helpers/ip-packets.js";

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));

describe("addresses", () => {
  it.each([
    ["10.0.0.1", "10.0.0.1"],
    ["fd88::1", "fd88::1"],
    ["FD88:0:0:0:0:0:0:1", "fd88::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8::", "2001:db8::"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
    ["::ffff:192.0.2.1", "::ffff:c000:201"],
  ])("%s round-trips as %s", (text, formatted) => {
    expect(formatAddress(parseAddress(text))).toBe(formatted);
  });

  it.each([
    "1.2.3",
    "256.0.0.1",
    "01.2.3.4",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "g::1",
    "",
    "1:2:3:4:5:6:7::8",
  ])("rejects %j", (text) => {
    expect(() => parseAddress(text)).toThrow(RangeError);
  });
});

describe("checksums", () => {
  it("an IPv4 header checksum matches the well-known example", () => {
    // 192.168.0.1 → 192.168.0.199, UDP, TTL 64: checksum 0xb861.
    const header = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
    expect(internetChecksum(header)).toBe(0xb861);
    header[10] = 0xb8;
    header[11] = 0x61;
    expect(internetChecksum(header)).toBe(0);
  });

  it("handles odd lengths by padding with a zero byte", () => {
    expect(internetChecksum(hex("0102 03"))).toBe(internetChecksum(hex("0102 0300")));
  });
});

describe("ICMP echo", () => {
  const payload = new TextEncoder().encode("abcdefghijklmnopq"); // odd length on purpose

  it.each([
    ["IPv4", "10.88.0.2", "10.88.0.1"],
    ["IPv6", "fd88::2", "fd88::1"],
  ])("%s request → reply with the same identifier, sequence and data", (_name, src, dst) => {
    const request = buildEchoRequest({
      source: src,
      destination: dst,
      identifier: 0x1234,
      sequence: 7,
      payload,
    });
    const parsed = parseEcho(request);
    expect(parsed).toMatchObject({
      kind: "request",
      source: src,
      destination: dst,
      identifier: 0x1234,
      sequence: 7,
      hopLimit: 64,
    });
    expect(parsed?.payload).toEqual(payload);

    const reply = answerEcho(request)!;
    expect(parseEcho(reply)).toMatchObject({
      kind: "reply",
      source: dst,
      destination: src,
      identifier: 0x1234,
      sequence: 7,
    });
    expect(answerEcho(reply)).toBeUndefined();
    expect(answerEcho(request, (d) => d === "192.0.2.1")).toBeUndefined();
  });

  it("an IPv4 echo request has the exact bytes (checksums worked out by hand)", () => {
    const request = buildEchoRequest({
      source: "10.0.0.1",
      destination: "10.0.0.2",
      identifier: 1,
      sequence: 1,
    });
    expect(Buffer.from(request).toString("hex")).toBe(
      "4500001c00004000400126df0a0000010a000002" + "0800f7fd00010001",
    );
  });

  it.each([
    ["IPv4", "10.88.0.2", "10.88.0.1", 20],
    ["IPv6", "fd88::2", "fd88::1", 40],
  ])("%s: any flipped bit in the ICMP message is detected", (_name, src, dst, headerLength) => {
    const request = buildEchoRequest({ source: src, destination: dst, identifier: 9, sequence: 9 });
    for (let i = headerLength; i < request.length; i++) {
      const corrupt = request.slice();
      corrupt[i]! ^= 0x10;
      expect(parseEcho(corrupt), `byte ${i}`).toBeUndefined();
    }
  });

  it("a corrupt IPv4 header or a truncated packet is not parsed", () => {
    const request = buildEchoRequest({
      source: "10.0.0.1",
      destination: "10.0.0.2",
      identifier: 1,
      sequence: 1,
    });
    const corrupt = request.slice();
    corrupt[15]! ^= 1;
    expect(parseIp(corrupt)).toBeUndefined();
    expect(parseIp(request.subarray(0, request.length - 1))).toBeUndefined();
    expect(parseIp(new Uint8Array(0))).toBeUndefined();
  });

  it("mixing families is refused", () => {
    expect(() =>
      buildEchoRequest({ source: "10.0.0.1", destination: "fd88::1", identifier: 1, sequence: 1 }),
    ).toThrow(RangeError);
  });
});

describe("UDP", () => {
  it.each([
    ["IPv4", "10.88.0.1", "10.88.0.2"],
    ["IPv6", "fd88::1", "fd88::2"],
  ])("%s datagrams round-trip and echo with ports swapped", (_name, src, dst) => {
    const payload = new TextEncoder().encode("hello tunnel");
    const packet = buildUdp({
      source: src,
      destination: dst,
      sourcePort: 40000,
      destinationPort: 7,
      payload,
    });
    expect(parseUdp(packet)).toEqual({
      family: src.includes(":") ? 6 : 4,
      source: src,
      destination: dst,
      sourcePort: 40000,
      destinationPort: 7,
      payload,
    });
    const echo = parseUdp(answerUdpEcho(packet)!);
    expect(echo).toMatchObject({
      source: dst,
      destination: src,
      sourcePort: 7,
      destinationPort: 40000,
    });
    expect(echo?.payload).toEqual(payload);
    const corrupt = packet.slice();
    corrupt[corrupt.length - 1]! ^= 0x01;
    expect(parseUdp(corrupt)).toBeUndefined();
  });

  it("an IPv4 datagram without a checksum (0) is accepted, an IPv6 one is not", () => {
    const v4 = buildUdp({
      source: "10.0.0.1",
      destination: "10.0.0.2",
      sourcePort: 1,
      destinationPort: 2,
      payload: new Uint8Array([1]),
    });
    v4[26] = 0;
    v4[27] = 0;
    expect(parseUdp(v4)?.payload).toEqual(new Uint8Array([1]));
    const v6 = buildUdp({
      source: "fd88::1",
      destination: "fd88::2",
      sourcePort: 1,
      destinationPort: 2,
      payload: new Uint8Array([1]),
    });
    v6[46] = 0;
    v6[47] = 0;
    expect(parseUdp(v6)).toBeUndefined();
  });
});
