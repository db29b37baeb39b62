import { isIPv4 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatCidr,
  formatIp,
  formatIpv4,
  formatIpv6,
  maskPrefix,
  packetAddresses,
  parseCidr,
  parseIp,
  parseIpv4,
  parseIpv6,
} from "../src/ip.js";

const bytesOf = (...values: number[]) => Uint8Array.from(values);

/** The WHATWG URL parser as an independent IPv6 oracle: canonical text, or null if invalid. */
function urlIpv6(text: string): string | null {
  if (/[/?#[\]@%\s\\]/.test(text)) return null;
  try {
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return null;
  }
}

const isMapped = (bytes: Uint8Array) =>
  bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;

describe("IPv4", () => {
  it("parses and formats dotted quads", () => {
    expect(parseIpv4("10.0.0.1")).toEqual({ ok: true, bytes: bytesOf(10, 0, 0, 1) });
    expect(parseIpv4("255.255.255.255")).toEqual({ ok: true, bytes: bytesOf(255, 255, 255, 255) });
    expect(formatIpv4(bytesOf(192, 0, 2, 1))).toBe("192.0.2.1");
  });

  it("rejects malformed text with a precise reason", () => {
    expect(parseIpv4("1.2.3")).toEqual({
      ok: false,
      error: "'1.2.3' is not an IPv4 address (expected 4 dot-separated numbers)",
    });
    expect(parseIpv4("1.2.3.256")).toEqual({
      ok: false,
      error: "'1.2.3.256' is not an IPv4 address (256 is greater than 255)",
    });
    expect(parseIpv4("1.02.3.4")).toEqual({
      ok: false,
      error: "'1.02.3.4' is not an IPv4 address ('02' has a leading zero)",
    });
    expect(parseIpv4("1.2.3.x")).toEqual({
      ok: false,
      error: "'1.2.3.x' is not an IPv4 address ('x' is not a number 0–255)",
    });
    expect(parseIpv4("1.2.3.4 ").ok).toBe(false);
    expect(parseIpv4("+1.2.3.4").ok).toBe(false);
  });

  it("accepts exactly what node:net accepts, and round-trips", () => {
    const octet = fc.oneof(
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.constantFrom("", "00", "01", "-1", "1e2", " 1", "0x1", "256", "999", "1234"),
    );
    fc.assert(
      fc.property(fc.array(octet, { minLength: 2, maxLength: 5 }), (parts) => {
        const text = parts.join(".");
        const result = parseIpv4(text);
        expect(result.ok).toBe(isIPv4(text));
        if (result.ok) expect(formatIpv4(result.bytes)).toBe(text);
      }),
    );
  });
});

describe("IPv6", () => {
  it("formats canonically per RFC 5952", () => {
    const cases: [string, string][] = [
      ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group stays
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run wins
      ["0:0:0:0:0:0:0:0", "::"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["1:0:0:0:0:0:0:0", "1::"],
      ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
      ["::ffff:0102:0304", "::ffff:1.2.3.4"],
      ["::1.2.3.4", "::102:304"], // IPv4-compatible (deprecated) is not written dotted
      ["fe80:0:1:2:3:4:0:0", "fe80:0:1:2:3:4::"],
    ];
    for (const [input, canonical] of cases) {
      const parsed = parseIpv6(input);
      expect(parsed.ok, input).toBe(true);
      if (parsed.ok) expect(formatIpv6(parsed.bytes)).toBe(canonical);
    }
  });

  it("rejects malformed text and zone ids with a precise reason", () => {
    expect(parseIpv6("fe80::1%eth0")).toEqual({
      ok: false,
      error: "'fe80::1%eth0' is not an IPv6 address (zone identifiers are not supported)",
    });
    expect(parseIpv6("1::2::3")).toEqual({
      ok: false,
      error: "'1::2::3' is not an IPv6 address ('::' may appear only once)",
    });
    expect(parseIpv6("1:2:3:4:5:6:7")).toEqual({
      ok: false,
      error: "'1:2:3:4:5:6:7' is not an IPv6 address (expected 8 groups, found 7)",
    });
    expect(parseIpv6("1:2:3:4::5:6:7:8")).toEqual({
      ok: false,
      error:
        "'1:2:3:4::5:6:7:8' is not an IPv6 address ('::' must stand for at least one zero group)",
    });
    expect(parseIpv6("12345::")).toEqual({
      ok: false,
      error: "'12345::' is not an IPv6 address ('12345' is not a 1–4 digit hex group)",
    });
    expect(parseIpv6("::1.2.3.256").ok).toBe(false);
    expect(parseIpv6("1.2.3.4::").ok).toBe(false);
    expect(parseIpv6(":1::").ok).toBe(false);
  });

  it("formats random addresses like the WHATWG URL serializer (mapped ones dotted)", () => {
    // Bias towards zero groups so compression cases are common.
    const word = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), fc.boolean(), (words, mapped) => {
        const bytes = new Uint8Array(16);
        if (mapped) words.splice(0, 6, 0, 0, 0, 0, 0, 0xffff);
        words.forEach((w, i) => {
          bytes[2 * i] = w >> 8;
          bytes[2 * i + 1] = w & 0xff;
        });
        const text = formatIpv6(bytes);
        if (isMapped(bytes)) {
          expect(text).toBe(`::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`);
        } else {
          expect(text).toBe(urlIpv6(text));
        }
        const back = parseIpv6(text);
        expect(back).toEqual({ ok: true, bytes });
      }),
    );
  });

  it("accepts exactly what the WHATWG URL parser accepts, never throwing", () => {
    const token = fc.constantFrom(
      "0",
      "1",
      "f",
      "F",
      "a",
      "00",
      "ffff",
      "10000",
      ":",
      "::",
      ".",
      "1.2.3.4",
      "%",
      "g",
      "255",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 14 }), (tokens) => {
        const text = tokens.join("");
        const ours = parseIpv6(text);
        const oracle = text.includes("%") ? null : urlIpv6(text);
        expect(ours.ok, text).toBe(oracle !== null);
        if (ours.ok && oracle !== null && !isMapped(ours.bytes)) {
          expect(formatIpv6(ours.bytes)).toBe(oracle);
        }
        if (!ours.ok) expect(ours.error).toMatch(/^'.*' is not an IPv6 address \(.+\)$/s);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("parseIp / parseCidr", () => {
  it("picks the family from the text", () => {
    expect(parseIp("10.1.2.3")).toEqual({
      ok: true,
      address: { family: 4, bytes: bytesOf(10, 1, 2, 3) },
    });
    const v6 = parseIp("::1");
    expect(v6.ok && v6.address.family).toBe(6);
    expect(parseIp("")).toEqual({ ok: false, error: "empty address" });
    expect(formatIp({ family: 4, bytes: bytesOf(1, 2, 3, 4) })).toBe("1.2.3.4");
  });

  it("parses prefixes, defaulting to a host prefix, keeping host bits", () => {
    expect(parseCidr("10.0.0.1/24")).toEqual({
      ok: true,
      prefix: { family: 4, bytes: bytesOf(10, 0, 0, 1), length: 24 },
    });
    expect(parseCidr("10.0.0.1")).toEqual({
      ok: true,
      prefix: { family: 4, bytes: bytesOf(10, 0, 0, 1), length: 32 },
    });
    const v6 = parseCidr("fd00::/8");
    expect(v6.ok && v6.prefix.length).toBe(8);
    expect(parseCidr("::/0").ok).toBe(true);
    const host6 = parseCidr("::1");
    expect(host6.ok && host6.prefix.length).toBe(128);
  });

  it("explains bad prefixes precisely", () => {
    expect(parseCidr("10.0.0.0/33")).toEqual({
      ok: false,
      error: "'10.0.0.0/33' is not a valid prefix (IPv4 prefix length must be 0–32)",
    });
    expect(parseCidr("::/129")).toEqual({
      ok: false,
      error: "'::/129' is not a valid prefix (IPv6 prefix length must be 0–128)",
    });
    expect(parseCidr("10.0.0.0/")).toEqual({
      ok: false,
      error: "'10.0.0.0/' is not a valid prefix (IPv4 prefix length must be 0–32)",
    });
    expect(parseCidr("10.0.0.0/08").ok).toBe(false);
    expect(parseCidr("10.0.0.0/-1").ok).toBe(false);
    expect(parseCidr("10.0.0.0/8/8").ok).toBe(false);
    expect(parseCidr("10.0.0/8")).toEqual({
      ok: false,
      error:
        "'10.0.0/8' is not a valid prefix ('10.0.0' is not an IPv4 address (expected 4 dot-separated numbers))",
    });
  });

  it("round-trips through formatCidr and masks on request", () => {
    const prefix = fc.oneof(
      fc.record({
        family: fc.constant(4 as const),
        bytes: fc.uint8Array({ minLength: 4, maxLength: 4 }),
        length: fc.integer({ min: 0, max: 32 }),
      }),
      fc.record({
        family: fc.constant(6 as const),
        bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        length: fc.integer({ min: 0, max: 128 }),
      }),
    );
    fc.assert(
      fc.property(prefix, (p) => {
        expect(parseCidr(formatCidr(p))).toEqual({ ok: true, prefix: p });
        const masked = maskPrefix(p);
        for (let bit = 0; bit < p.bytes.length * 8; bit++) {
          const got = (masked.bytes[bit >> 3]! >> (7 - (bit & 7))) & 1;
          const original = (p.bytes[bit >> 3]! >> (7 - (bit & 7))) & 1;
          expect(got).toBe(bit < p.length ? original : 0);
        }
      }),
    );
  });

  it("never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (text) => {
        const result = parseCidr(text);
        if (!result.ok) expect(result.error).toContain(`'${text}' is not a valid prefix (`);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("packetAddresses", () => {
  function ipv4Packet(totalLength: number, padding = 0): Uint8Array {
    const p = new Uint8Array(totalLength + padding);
    p[0] = 0x45;
    p[2] = totalLength >> 8;
    p[3] = totalLength & 0xff;
    p.set([10, 0, 0, 1], 12);
    p.set([10, 0, 0, 2], 16);
    return p;
  }

  function ipv6Packet(payloadLength: number, padding = 0): Uint8Array {
    const p = new Uint8Array(40 + payloadLength + padding);
    p[0] = 0x60;
    p[4] = payloadLength >> 8;
    p[5] = payloadLength & 0xff;
    p[8] = 0xfd;
    p[23] = 1;
    p[24] = 0xfd;
    p[39] = 2;
    return p;
  }

  it("reads IPv4 source and destination as views, ignoring padding", () => {
    const packet = ipv4Packet(28, 4);
    const result = packetAddresses(packet);
    expect(result).not.toBeNull();
    expect(result!.family).toBe(4);
    expect([...result!.source]).toEqual([10, 0, 0, 1]);
    expect([...result!.destination]).toEqual([10, 0, 0, 2]);
    expect(result!.totalLength).toBe(28);
    expect(result!.source.buffer).toBe(packet.buffer);
  });

  it("reads IPv6 source and destination", () => {
    const result = packetAddresses(ipv6Packet(8, 8));
    expect(result!.family).toBe(6);
    expect(formatIpv6(result!.source)).toBe("fd00::1");
    expect(formatIpv6(result!.destination)).toBe("fd00::2");
    expect(result!.totalLength).toBe(48);
  });

  it("rejects malformed packets", () => {
    expect(packetAddresses(new Uint8Array(0))).toBeNull();
    expect(packetAddresses(ipv4Packet(20).subarray(0, 19))).toBeNull(); // short header
    const badVersion = ipv4Packet(20);
    badVersion[0] = 0x55;
    expect(packetAddresses(badVersion)).toBeNull();
    const shortIhl = ipv4Packet(20);
    shortIhl[0] = 0x44;
    expect(packetAddresses(shortIhl)).toBeNull();
    const longIhl = ipv4Packet(40);
    longIhl[0] = 0x4f; // 60-byte header inside a 40-byte packet
    expect(packetAddresses(longIhl)).toBeNull();
    const overlong = ipv4Packet(30);
    expect(packetAddresses(overlong.subarray(0, 29))).toBeNull(); // total length past the end
    const underlong = ipv4Packet(20);
    underlong[3] = 19; // total length shorter than the header
    expect(packetAddresses(underlong)).toBeNull();
    expect(packetAddresses(ipv6Packet(0).subarray(0, 39))).toBeNull();
    expect(packetAddresses(ipv6Packet(10).subarray(0, 49))).toBeNull();
    expect(packetAddresses(ipv4Packet(20))).not.toBeNull();
    expect(packetAddresses(ipv6Packet(0))).not.toBeNull();
  });

  it("never throws, and only accepts what fits", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const result = packetAddresses(bytes);
        if (result !== null) {
          expect(result.totalLength).toBeLessThanOrEqual(bytes.length);
          expect(result.source.length).toBe(result.family === 4 ? 4 : 16);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
