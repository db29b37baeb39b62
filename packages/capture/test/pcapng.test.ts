import { afterAll, describe, expect, it } from "vitest";
import { CaptureReader, readCaptureBytes } from "../src/reader.js";
import { type CaptureRecord, SECRETS_TYPE_WIREGUARD } from "../src/records.js";
import { PcapngWriter } from "../src/writer.js";
import {
  concat,
  ethernet,
  linuxSll2,
  packets,
  scratchDir,
  tsharkRows,
  udp4,
  udp6,
  writeTemp,
} from "./helpers.js";

/** A raw pcapng block: type, length, body (padded), length. */
function block(type: number, body: Uint8Array, littleEndian = true): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const out = new Uint8Array(12 + padded);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, littleEndian);
  view.setUint32(4, out.length, littleEndian);
  out.set(body, 8);
  view.setUint32(out.length - 4, out.length, littleEndian);
  return out;
}

function fields(littleEndian: boolean, ...parts: [number, 1 | 2 | 4 | 8][]): Uint8Array {
  const size = parts.reduce((n, [, w]) => n + w, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [value, width] of parts) {
    if (width === 1) view.setUint8(at, value);
    else if (width === 2) view.setUint16(at, value, littleEndian);
    else if (width === 4) view.setUint32(at, value, littleEndian);
    else view.setBigInt64(at, BigInt(value), littleEndian);
    at += width;
  }
  return out;
}

function option(code: number, value: Uint8Array, le: boolean): Uint8Array {
  const out = new Uint8Array(4 + ((value.length + 3) & ~3));
  const view = new DataView(out.buffer);
  view.setUint16(0, code, le);
  view.setUint16(2, value.length, le);
  out.set(value, 4);
  return out;
}

const shb = (le: boolean) =>
  block(0x0a0d0d0a, fields(le, [0x1a2b3c4d, 4], [1, 2], [0, 2], [-1, 8]), le);
const idb = (le: boolean, linkType: number, ...options: Uint8Array[]) =>
  block(1, concat([fields(le, [linkType, 2], [0, 2], [0, 4]), ...options, new Uint8Array(4)]), le);
const epb = (
  le: boolean,
  interfaceId: number,
  units: bigint,
  data: Uint8Array,
  originalLength = data.length,
) =>
  block(
    6,
    concat([
      fields(
        le,
        [interfaceId, 4],
        [Number(units >> 32n), 4],
        [Number(units & 0xffffffffn), 4],
        [data.length, 4],
        [originalLength, 4],
      ),
      data,
    ]),
    le,
  );

const frame4 = ethernet(udp4(new Uint8Array([4, 4, 4])));
const frame6 = linuxSll2(udp6(new Uint8Array([6, 6])));
const raw4 = udp4(new Uint8Array([1]));

/** Two sections (little- then big-endian), five interfaces, every block type we know and some we don't. */
function multiSectionFile(): Uint8Array {
  const le = true;
  const be = false;
  const tsoffset = new Uint8Array(8);
  new DataView(tsoffset.buffer).setBigInt64(0, 100n, le);
  const keyLog = new TextEncoder().encode("LOCAL_STATIC_PRIVATE_KEY = abc=\n");
  return concat([
    shb(le),
    idb(le, 1), // 0: Ethernet, default µs
    block(
      4,
      concat([
        fields(le, [1, 2], [8, 2]),
        Uint8Array.of(10, 0, 0, 1),
        new TextEncoder().encode("a.b\0"),
        new Uint8Array(4),
      ]),
      le,
    ), // NRB
    idb(le, 101, option(9, Uint8Array.of(9), le), option(14, tsoffset, le)), // 1: raw IP, ns, +100 s
    epb(le, 0, 1_700_000_000_250_000n, frame4),
    block(0x12345678, new Uint8Array(20), le), // unknown
    block(0x00000bad, fields(le, [32473, 4]), le), // custom block: tshark counts it as a frame
    block(10, concat([fields(le, [SECRETS_TYPE_WIREGUARD, 4], [keyLog.length, 4]), keyLog]), le), // DSB
    epb(le, 1, 1_700_000_000_000_000_001n, raw4),
    block(5, fields(le, [0, 4], [0, 4], [0, 4]), le), // ISB
    shb(be),
    idb(be, 276, option(9, Uint8Array.of(0x94), be)), // 0: SLL2, 2^-20 s
    idb(be, 1, option(9, Uint8Array.of(3), be)), // 1: Ethernet, ms
    idb(be, 1, option(9, Uint8Array.of(12), be)), // 2: Ethernet, ps
    epb(be, 0, (1_700_000_000n << 20n) + (1n << 19n), frame6),
    block(3, concat([fields(be, [frame6.length, 4]), frame6]), be), // SPB on interface 0
    block(
      2,
      concat([
        fields(
          be,
          [1, 2],
          [0, 2],
          [Math.floor(1_700_000_001_500 / 2 ** 32), 4],
          [1_700_000_001_500 % 2 ** 32, 4],
          [frame4.length, 4],
          [frame4.length, 4],
        ),
        frame4,
      ]),
      be,
    ), // obsolete PB, ms
    epb(be, 2, 1_000_000_000_123_456n, frame4), // 1000 s + 123456 ps
  ]);
}

describe("pcapng", () => {
  const scratch = scratchDir();
  afterAll(scratch.cleanup);

  it("reads several sections, byte orders, interfaces and timestamp resolutions", async () => {
    const bytes = multiSectionFile();
    const records = [...readCaptureBytes(bytes)];
    expect(records.map((r) => r.kind)).toEqual([
      "packet",
      "secrets",
      "packet",
      "packet",
      "packet",
      "packet",
      "packet",
    ]);
    const p = packets(records);
    expect(p.map((r) => [r.index, r.interfaceId, r.linkType])).toEqual([
      [1, 0, 1],
      [3, 1, 101],
      [4, 0, 276],
      [5, 0, 276],
      [6, 1, 1],
      [7, 2, 1],
    ]);
    expect(p.map((r) => r.timestampNs)).toEqual([
      1_700_000_000_250_000_000n,
      1_700_000_100_000_000_001n,
      1_700_000_000_500_000_000n,
      0n, // a Simple Packet Block has no timestamp
      1_700_000_001_500_000_000n,
      1_000_000_000_123n,
    ]);
    expect(p.map((r) => Uint8Array.from(r.data))).toEqual([
      frame4,
      raw4,
      frame6,
      frame6,
      frame4,
      frame4,
    ]);
    const secrets = records[1]!;
    expect(secrets).toMatchObject({
      kind: "secrets",
      type: SECRETS_TYPE_WIREGUARD,
      text: "LOCAL_STATIC_PRIVATE_KEY = abc=\n",
    });

    // tshark agrees on frame numbers, times (but for the timestamp-less SPB) and lengths.
    const path = writeTemp(scratch.dir, "multi.pcapng", [bytes]);
    const rows = await tsharkRows(path, ["frame.number", "frame.time_epoch", "frame.cap_len"], {
      displayFilter: "frame.cap_len > 0",
    });
    expect(rows.map((r) => Number(r[0]))).toEqual(p.map((r) => r.index));
    const ours = p.map(
      (r) =>
        `${r.timestampNs / 1_000_000_000n}.${(r.timestampNs % 1_000_000_000n).toString().padStart(9, "0")}`,
    );
    expect(rows.filter((_, i) => i !== 3).map((r) => r[1])).toEqual(ours.filter((_, i) => i !== 3));
    expect(rows.map((r) => Number(r[2]))).toEqual(p.map((r) => r.capturedLength));
  });

  it("reads what PcapngWriter writes, big-endian too", () => {
    for (const littleEndian of [true, false]) {
      const writer = new PcapngWriter({ littleEndian, userApplication: "test" });
      const chunks = [
        writer.addInterface({ linkType: 101, name: "relay" }),
        writer.addInterface({ linkType: 1, timestampResolution: "us" }),
        writer.writePacket({
          timestampNs: 1_800_000_000_123_456_789n,
          data: raw4,
          comment: "hello",
        }),
        writer.writePacket({
          interfaceId: 1,
          timestampNs: 1_800_000_000_123_456_789n,
          data: frame4,
          originalLength: 1000,
        }),
      ];
      const p = packets([...readCaptureBytes(concat(chunks))]);
      expect(p.map((r) => [r.linkType, r.timestampNs, r.originalLength])).toEqual([
        [101, 1_800_000_000_123_456_789n, raw4.length],
        [1, 1_800_000_000_123_456_000n, 1000],
      ]);
    }
  });

  function errorOf(records: CaptureRecord[]) {
    const last = records.at(-1);
    if (last?.kind !== "error") throw new Error("expected an error record");
    return last.error;
  }

  const le = true;
  const good = concat([shb(le), idb(le, 101), epb(le, 0, 1n, raw4)]);
  const goodLength = good.length;

  it("reports a block claiming 1 GiB before allocating, after the earlier records", () => {
    const huge = fields(le, [6, 4], [1 << 30, 4]);
    const reader = new CaptureReader();
    const records = [...reader.push(good).push(huge)]; // no end(): decided from the header alone
    expect(packets(records)).toHaveLength(1);
    const error = errorOf(records);
    expect(error.code).toBe("too-large");
    expect(error.offset).toBe(goodLength);
    expect(error.message).toBe(
      `pcapng: block at offset ${goodLength} claims length 1073741824, more than the 16 MiB limit`,
    );
    expect(reader.done).toBe(true);
  });

  it("names the configured limit", () => {
    const records = [...readCaptureBytes(good, { maxPcapngBlockBytes: 60 })];
    const epbAt = shb(le).length + idb(le, 101).length;
    const epbLength = epb(le, 0, 1n, raw4).length;
    expect(errorOf(records).message).toBe(
      `pcapng: block at offset ${epbAt} claims length ${epbLength}, more than the 60 bytes limit`,
    );
  });

  it.each([
    [
      "a trailing length that differs",
      concat([good, epb(le, 0, 1n, raw4).map((b, i, a) => (i === a.length - 4 ? b + 4 : b))]),
      "malformed",
      `pcapng: block at offset ${goodLength} has trailing length`,
    ],
    [
      "a length that is not a multiple of 4",
      concat([good, fields(le, [6, 4], [34, 4]), new Uint8Array(26)]),
      "malformed",
      "has length 34; it must be a multiple of 4",
    ],
    [
      "an Enhanced Packet Block too short for its fields",
      concat([good, block(6, new Uint8Array(8))]),
      "malformed",
      "Enhanced Packet Block at offset",
    ],
    [
      "a packet on an undeclared interface",
      concat([good, epb(le, 3, 1n, raw4)]),
      "malformed",
      "refers to interface 3, but the section has 1",
    ],
    [
      "a captured length beyond the block",
      concat([
        good,
        block(6, concat([fields(le, [0, 4], [0, 4], [0, 4], [99, 4], [99, 4]), raw4])),
      ]),
      "malformed",
      "claims captured length 99, but the block holds only",
    ],
    [
      "secrets longer than the block",
      concat([good, block(10, fields(le, [SECRETS_TYPE_WIREGUARD, 4], [50, 4]))]),
      "malformed",
      "claims 50 bytes of secrets",
    ],
    [
      "a bad byte-order magic",
      concat([good, block(0x0a0d0d0a, fields(le, [0x11223344, 4], [1, 2], [0, 2], [-1, 8]))]),
      "malformed",
      "byte-order magic 0x11223344",
    ],
    [
      "a version 2 section",
      concat([good, block(0x0a0d0d0a, fields(le, [0x1a2b3c4d, 4], [2, 2], [0, 2], [-1, 8]))]),
      "unsupported",
      "has version 2.0; only 1.x is supported",
    ],
    [
      "an interface option running past the block",
      concat([
        good,
        block(1, concat([fields(le, [1, 2], [0, 2], [0, 4]), fields(le, [9, 2], [200, 2])])),
      ]),
      "malformed",
      "option 9 of the Interface Description Block",
    ],
  ])("reports %s after the earlier records", (_name, bytes, code, text) => {
    const records = [...readCaptureBytes(bytes)];
    expect(packets(records)).toHaveLength(1);
    const error = errorOf(records);
    expect(error.code).toBe(code);
    expect(error.offset).toBe(goodLength);
    expect(error.message).toContain(text);
  });

  it("requires a Section Header Block first", () => {
    const bytes = concat([Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a), new Uint8Array(0)]);
    expect(errorOf([...readCaptureBytes(bytes)]).code).toBe("truncated");
    // A valid SHB cut after its type: truncated, not a crash.
    const cut = shb(le).subarray(0, 10);
    const error = errorOf([...readCaptureBytes(cut)]);
    expect(error.message).toBe(
      "pcapng: file truncated at offset 10: section header at offset 0 needs 12 bytes, only 10 present",
    );
  });
});
