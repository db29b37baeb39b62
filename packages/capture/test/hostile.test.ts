import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CaptureReader, readCaptureBytes } from "../src/reader.js";
import type { CaptureRecord } from "../src/records.js";
import { PcapngWriter } from "../src/writer.js";
import { CAPTURES_DIR, concat, packets } from "./helpers.js";

const normalPcap = new Uint8Array(readFileSync(join(CAPTURES_DIR, "normal/normal.pcap")));
const normalPcapng = new Uint8Array(readFileSync(join(CAPTURES_DIR, "normal/normal.pcapng")));
const stallPcap = new Uint8Array(
  readFileSync(join(CAPTURES_DIR, "collision-stall/sim-nopsk-retry-run02.pcap")),
);
const stallPcapng = new Uint8Array(
  readFileSync(join(CAPTURES_DIR, "collision-stall/sim-nopsk-retry-run02.pcapng")),
);

/** normal.pcapng rewritten with its key log in a Decryption Secrets Block up front. */
const withSecrets = (() => {
  const writer = new PcapngWriter();
  const chunks = [
    writer.addInterface({ linkType: 1 }),
    writer.writeWireGuardKeyLog(readFileSync(join(CAPTURES_DIR, "normal/keylog.txt"), "utf8")),
  ];
  for (const r of packets([...readCaptureBytes(normalPcapng)]))
    chunks.push(writer.writePacket({ timestampNs: r.timestampNs, data: r.data }));
  return concat(chunks);
})();

/** Feeds `bytes` split at `cuts`, collecting everything, with a guard against endless loops. */
function feed(bytes: Uint8Array, cuts: number[]): CaptureRecord[] {
  const reader = new CaptureReader();
  const out: CaptureRecord[] = [];
  const drain = () => {
    for (let r = reader.next(); r !== undefined; r = reader.next()) {
      out.push(r);
      if (out.length > bytes.length + 2) throw new Error("reader does not terminate");
    }
  };
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    reader.push(bytes.subarray(start, cut));
    drain();
    start = cut;
  }
  reader.push(bytes.subarray(start));
  drain();
  reader.end();
  drain();
  return out;
}

/** Comparable form: copies of the data so chunk-views and copies compare equal. */
function summary(records: CaptureRecord[]) {
  return records.map((r) =>
    r.kind === "packet"
      ? {
          kind: r.kind,
          index: r.index,
          ts: r.timestampNs,
          iface: r.interfaceId,
          data: Array.from(r.data),
        }
      : r.kind === "secrets"
        ? { kind: r.kind, type: r.type, text: r.text }
        : { kind: r.kind, code: r.error.code, offset: r.error.offset, message: r.error.message },
  );
}

/** End offsets of every record/block after the file header, from a trusted walk of the file. */
function recordEnds(bytes: Uint8Array, format: "pcap" | "pcapng"): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ends: number[] = [];
  if (format === "pcap") {
    for (let at = 24; at < bytes.length; at += 16 + view.getUint32(at + 8, true))
      ends.push(at + 16 + view.getUint32(at + 8, true));
  } else {
    for (let at = 0; at < bytes.length; at += view.getUint32(at + 4, true))
      ends.push(at + view.getUint32(at + 4, true));
  }
  return ends;
}

describe("hostile input", () => {
  it.each([
    ["pcap", normalPcap],
    ["pcapng", normalPcapng],
    ["pcapng with secrets", withSecrets],
  ] as const)(
    "%s truncated at every byte offset: complete records, then a truncation error",
    (name, file) => {
      const format = name === "pcap" ? "pcap" : "pcapng";
      const full = [...readCaptureBytes(file)];
      expect(full.some((r) => r.kind === "error")).toBe(false);
      const ends = recordEnds(file, format);
      const boundaries = new Set([format === "pcap" ? 24 : -1, ...ends]);
      for (let cut = 0; cut < file.length; cut++) {
        const records = [...readCaptureBytes(file.subarray(0, cut))];
        const complete = full.filter(
          (r) => r.kind !== "error" && r.offset < cut && ends.find((e) => e > r.offset)! <= cut,
        );
        const errors = records.filter((r) => r.kind === "error");
        expect(summary(records.filter((r) => r.kind !== "error"))).toEqual(summary(complete));
        if (boundaries.has(cut)) {
          expect(errors).toEqual([]);
        } else {
          expect(errors).toHaveLength(1);
          const last = records.at(-1)!;
          expect(last.kind === "error" && last.error.code).toBe("truncated");
          if (last.kind === "error") {
            expect(last.error.message).toMatch(
              cut === 0 ? /^capture: file is empty$/ : /truncated at offset/,
            );
            // the offset names the start of the record (or file header) that was cut
            const starts = [0, ...boundaries].filter((b) => b >= 0 && b <= cut);
            expect(last.error.offset).toBe(Math.max(...starts));
          }
        }
      }
    },
  );

  it("random bytes (with and without a valid magic) never throw or hang; an error is always last", () => {
    const magics = [
      [],
      [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0],
      [0x0a, 0x0d, 0x0d, 0x0a],
      [0x4d, 0x3c, 0xb2, 0xa1],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...magics),
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (magic, body, cutSeeds) => {
          const bytes = concat([Uint8Array.from(magic), body]);
          const records = feed(
            bytes,
            cutSeeds.map((c) => c % (bytes.length + 1)),
          );
          const errors = records.filter((r) => r.kind === "error");
          expect(errors.length).toBeLessThanOrEqual(1);
          if (errors.length === 1) expect(records.at(-1)!.kind).toBe("error");
        },
      ),
      { numRuns: 400 },
    );
  });

  it("mutated real captures never throw; records before the damage still come out", () => {
    const full = summary([...readCaptureBytes(normalPcapng)]);
    fc.assert(
      fc.property(fc.nat(normalPcapng.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const mutated = normalPcapng.slice();
        mutated[at]! ^= xor;
        const records = summary([...readCaptureBytes(mutated)]);
        const ends = recordEnds(normalPcapng, "pcapng");
        const intactPackets = full.filter((r, i) => r.kind === "packet" && ends[i + 2]! <= at); // SHB, IDB come first
        expect(records.slice(0, intactPackets.length)).toEqual(intactPackets);
      }),
      { numRuns: 300 },
    );
  });

  it("absurd lengths are refused from the header alone, without allocating them", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16 * 1024 * 1024 + 1, max: 0xffffffff }),
        fc.boolean(),
        (length, pcapng) => {
          const before = process.memoryUsage().arrayBuffers;
          const reader = new CaptureReader();
          let header: Uint8Array;
          if (pcapng) {
            header = new Uint8Array(8);
            new DataView(header.buffer).setUint32(0, 6, true);
            new DataView(header.buffer).setUint32(4, length, true);
            reader.push(normalPcapng);
          } else {
            header = new Uint8Array(16);
            new DataView(header.buffer).setUint32(8, length, true);
            new DataView(header.buffer).setUint32(12, length, true);
            reader.push(normalPcap);
          }
          const records = [...reader.push(header)];
          expect(packets(records)).toHaveLength(9);
          const last = records.at(-1)!;
          expect(last.kind === "error" && last.error.code).toBe("too-large");
          expect(last.kind === "error" && last.error.message).toContain(
            pcapng ? "more than the 16 MiB limit" : "more than the 256 KiB limit",
          );
          expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("chunked feeding at random boundaries gives identical results", () => {
    const expected = new Map(
      [stallPcap, stallPcapng, withSecrets].map((f) => [f, summary([...readCaptureBytes(f)])]),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(stallPcap, stallPcapng, withSecrets),
        fc.array(fc.nat(), { maxLength: 40 }),
        (file, cutSeeds) => {
          const records = feed(
            file,
            cutSeeds.map((c) => c % (file.length + 1)),
          );
          expect(summary(records)).toEqual(expected.get(file));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("one byte at a time gives identical results", () => {
    for (const file of [normalPcap, withSecrets]) {
      const cuts = Array.from({ length: file.length }, (_, i) => i);
      expect(summary(feed(file, cuts))).toEqual(summary([...readCaptureBytes(file)]));
    }
  });
});
