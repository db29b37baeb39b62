import { describe, expect, it } from "vitest";
import { CaptureError } from "../src/errors.js";
import { CaptureReader, readCaptureBytes } from "../src/reader.js";
import type { CaptureRecord } from "../src/records.js";
import { buildPcap, ethernet, packets, udp4 } from "./helpers.js";

const frameA = ethernet(udp4(new Uint8Array([1, 2, 3])));
const frameB = ethernet(udp4(new Uint8Array(40).fill(7)));

function read(bytes: Uint8Array): CaptureRecord[] {
  return [...readCaptureBytes(bytes)];
}

function lastError(records: CaptureRecord[]): CaptureError {
  const last = records.at(-1);
  if (last?.kind !== "error") throw new Error("expected an error record last");
  expect(last.error).toBeInstanceOf(CaptureError);
  return last.error;
}

describe("classic pcap", () => {
  for (const littleEndian of [true, false]) {
    for (const nanoseconds of [false, true]) {
      it(`reads ${littleEndian ? "little" : "big"}-endian ${nanoseconds ? "ns" : "µs"} files`, () => {
        const bytes = buildPcap({
          littleEndian,
          nanoseconds,
          linkType: 1,
          records: [
            { seconds: 1_700_000_000, fraction: nanoseconds ? 123_456_789 : 123_456, data: frameA },
            {
              seconds: 4_294_967_295,
              fraction: nanoseconds ? 999_999_999 : 999_999,
              data: frameB,
              originalLength: 1500,
            },
          ],
        });
        const reader = new CaptureReader();
        const records = [...reader.push(bytes).end()];
        expect(reader.format).toBe("pcap");
        const [a, b] = packets(records);
        expect(records).toHaveLength(2);
        expect(a).toMatchObject({
          index: 1,
          interfaceId: 0,
          linkType: 1,
          capturedLength: frameA.length,
        });
        expect(a!.timestampNs).toBe(
          nanoseconds ? 1_700_000_000_123_456_789n : 1_700_000_000_123_456_000n,
        );
        expect(a!.time).toBeCloseTo(1_700_000_000.123456, 5);
        expect(Uint8Array.from(a!.data)).toEqual(frameA);
        expect(b).toMatchObject({
          index: 2,
          capturedLength: frameB.length,
          originalLength: 1500,
          offset: 24 + 16 + frameA.length,
        });
        expect(b!.timestampNs).toBe(
          nanoseconds ? 4_294_967_295_999_999_999n : 4_294_967_295_999_999_000n,
        );
      });
    }
  }

  it("masks the FCS bits out of the link-type field", () => {
    const bytes = buildPcap({
      littleEndian: true,
      nanoseconds: false,
      linkType: 0x10000000 | 101,
      records: [],
    });
    const reader = new CaptureReader();
    expect([...reader.push(bytes).end()]).toEqual([]);
    expect(reader.done).toBe(true);
    const withRecord = buildPcap({
      littleEndian: true,
      nanoseconds: false,
      linkType: 0x10000000 | 101,
      records: [{ seconds: 1, fraction: 0, data: udp4(new Uint8Array(1)) }],
    });
    expect(packets(read(withRecord))[0]!.linkType).toBe(101);
  });

  it("reports a record claiming an absurd captured length before reading it, after earlier records", () => {
    const bytes = buildPcap({
      littleEndian: true,
      nanoseconds: false,
      linkType: 1,
      records: [{ seconds: 1, fraction: 0, data: frameA }],
    });
    const header = new Uint8Array(16);
    const view = new DataView(header.buffer);
    view.setUint32(8, 1 << 30, true);
    view.setUint32(12, 1 << 30, true);
    const reader = new CaptureReader();
    const records = [...reader.push(bytes).push(header)]; // no end(): the error must not wait for the body
    expect(packets(records)).toHaveLength(1);
    const error = lastError(records);
    expect(error.code).toBe("too-large");
    expect(error.offset).toBe(bytes.length);
    expect(error.message).toBe(
      `pcap: record 2 at offset ${bytes.length} claims captured length 1073741824, more than the 256 KiB limit`,
    );
  });

  it("checks captured length against the original length and the snapshot length", () => {
    const overOriginal = buildPcap({
      littleEndian: false,
      nanoseconds: false,
      linkType: 1,
      records: [{ seconds: 1, fraction: 0, data: frameA, originalLength: 10 }],
    });
    expect(lastError(read(overOriginal)).message).toBe(
      `pcap: record 1 at offset 24 has captured length ${frameA.length} greater than its original length 10`,
    );
    const overSnaplen = buildPcap({
      littleEndian: true,
      nanoseconds: false,
      linkType: 1,
      snaplen: 20,
      records: [{ seconds: 1, fraction: 0, data: frameA }],
    });
    const error = lastError(read(overSnaplen));
    expect(error.code).toBe("malformed");
    expect(error.message).toContain("greater than the file's snapshot length 20");
  });

  it("rejects unknown magic and versions, and reports empty and short files", () => {
    const unknown = lastError(read(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0])));
    expect(unknown.code).toBe("unsupported");
    expect(unknown.message).toContain("unknown file magic 0xdeadbeef");
    const version = buildPcap({ littleEndian: true, nanoseconds: false, linkType: 1, records: [] });
    new DataView(version.buffer).setUint16(4, 3, true);
    expect(lastError(read(version)).message).toBe(
      "pcap: file format version 3.4 is not supported (only 2.x)",
    );
    const empty = lastError(read(new Uint8Array(0)));
    expect([empty.code, empty.message]).toEqual(["truncated", "capture: file is empty"]);
    expect(lastError(read(new Uint8Array([0xd4, 0xc3]))).code).toBe("truncated");
  });

  it("yields complete records of a truncated file, then a truncation error with the offset", () => {
    const bytes = buildPcap({
      littleEndian: true,
      nanoseconds: false,
      linkType: 1,
      records: [
        { seconds: 1, fraction: 0, data: frameA },
        { seconds: 2, fraction: 0, data: frameB },
      ],
    });
    const cut = bytes.subarray(0, bytes.length - 5);
    const records = read(cut);
    expect(packets(records).map((p) => p.index)).toEqual([1]);
    const error = lastError(records);
    const secondAt = 24 + 16 + frameA.length;
    expect(error.code).toBe("truncated");
    expect(error.offset).toBe(secondAt);
    expect(error.message).toBe(
      `pcap: file truncated at offset ${cut.length}: record 2 at offset ${secondAt} needs ${16 + frameB.length} bytes, only ${cut.length - secondAt} present`,
    );
  });

  it("throws labelled errors only for caller mistakes", () => {
    const reader = new CaptureReader();
    expect(() => reader.push("text" as unknown as Uint8Array)).toThrow(TypeError);
    reader.end();
    expect(() => reader.push(new Uint8Array(1))).toThrow(/after end/);
    expect(() => new CaptureReader({ maxPcapngBlockBytes: -1 })).toThrow(RangeError);
  });
});
