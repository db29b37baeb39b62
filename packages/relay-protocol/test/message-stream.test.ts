import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeStreamMessage,
  MAX_STREAM_MESSAGE,
  OPEN_MESSAGE_STREAM,
  StreamMessageReader,
} from "../src/message-stream.js";

/** Cuts `bytes` at the given offsets (sorted, deduplicated) into chunks. */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

describe("message stream", () => {
  it("gives back every message across any chunking, ignoring the opening frame", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 1500 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (messages, cuts) => {
          const wire = concat([OPEN_MESSAGE_STREAM, ...messages.map(encodeStreamMessage)]);
          const reader = new StreamMessageReader(1500);
          const out = chunked(wire, cuts).flatMap((chunk) => reader.push(chunk));
          expect(out).toEqual(messages.map((message) => ({ ok: true, message })));
          expect(reader.pending).toBe(0);
        },
      ),
    );
  });

  it("with views, gives the same messages across any chunking, a whole one as a view of its chunk", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 1500 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (messages, cuts) => {
          const wire = concat([OPEN_MESSAGE_STREAM, ...messages.map(encodeStreamMessage)]);
          const reader = new StreamMessageReader(1500, { views: true });
          const out = chunked(wire, cuts).flatMap((chunk) => reader.push(chunk));
          expect(out).toEqual(messages.map((message) => ({ ok: true, message })));
        },
      ),
    );
    const wire = concat([
      encodeStreamMessage(Uint8Array.of(1, 2)),
      encodeStreamMessage(Uint8Array.of(3)),
    ]);
    const [first, second] = new StreamMessageReader(10, { views: true }).push(wire);
    expect(first?.ok && first.message.buffer).toBe(wire.buffer);
    expect(second?.ok && second.message).toEqual(Uint8Array.of(3));
    const [copied] = new StreamMessageReader(10).push(wire);
    expect(copied?.ok && copied.message.buffer).not.toBe(wire.buffer);
  });

  it("reports a message over the limit precisely, skips it, and stays in step", () => {
    const reader = new StreamMessageReader(1452);
    const big = new Uint8Array(1500).fill(4);
    const small = Uint8Array.of(4, 0, 0, 0, 9);
    const wire = concat([encodeStreamMessage(big), encodeStreamMessage(small)]);
    const out = chunked(wire, [1, 700, 1501]).flatMap((chunk) => reader.push(chunk));
    expect(out).toEqual([
      { ok: false, length: 1500, detail: "message of 1500 bytes exceeds 1452" },
      { ok: true, message: small },
    ]);
  });

  it("never throws on garbage and never holds more than one message", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 20 }), (chunks) => {
        const reader = new StreamMessageReader(1452);
        for (const chunk of chunks) {
          for (const result of reader.push(chunk)) {
            if (result.ok) expect(result.message.length).toBeLessThanOrEqual(1452);
            else expect(result.length).toBeGreaterThan(1452);
          }
          expect(reader.pending).toBeLessThanOrEqual(1452 + 2);
        }
      }),
    );
  });

  it("refuses to encode what its header cannot announce", () => {
    expect(() => encodeStreamMessage(new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeStreamMessage(new Uint8Array(MAX_STREAM_MESSAGE + 1))).toThrow(
      /1\.\.65535 bytes, got 65536/,
    );
  });
});
