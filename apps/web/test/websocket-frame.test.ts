// The WebSocket frame codec on its own (RFC 6455 §5): the server's frames parsed from any split of
// the byte stream, fragmented messages reassembled, every violation refused with its close code,
// and the limits on a frame and a message enforced before anything is buffered. Fuzzed.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  closePayload,
  encodeFrame,
  FrameDecoder,
  OPCODE,
  type ServerEvent,
  WebSocketProtocolError,
} from "../src/browse/websocket-frame.js";

/** A server frame (unmasked), with the header bits given. */
function serverFrame(
  opcode: number,
  payload: Uint8Array,
  { fin = true, rsv = 0, mask = false, longForm = false } = {},
): Uint8Array {
  const n = payload.length;
  const header: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (n < 126 && !longForm) header.push(m | n);
  else if (n < 0x10000) header.push(m | 126, n >> 8, n & 0xff);
  else {
    header.push(m | 127);
    for (let i = 7; i >= 0; i--) header.push(Number((BigInt(n) >> BigInt(i * 8)) & 0xffn));
  }
  if (mask) header.push(0, 0, 0, 0);
  const out = new Uint8Array(header.length + n);
  out.set(header);
  out.set(payload, header.length);
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);

function decodeAll(bytes: Uint8Array, splits: number[] = [], limits = {}): ServerEvent[] {
  const decoder = new FrameDecoder(limits);
  const events: ServerEvent[] = [];
  let at = 0;
  for (const cut of [...splits.filter((s) => s > 0 && s < bytes.length)].sort((a, b) => a - b)) {
    events.push(...decoder.push(bytes.subarray(at, cut)));
    at = cut;
  }
  events.push(...decoder.push(bytes.subarray(at)));
  return events;
}

function refused(bytes: Uint8Array, limits = {}): WebSocketProtocolError {
  try {
    decodeAll(bytes, [], limits);
  } catch (e) {
    expect(e).toBeInstanceOf(WebSocketProtocolError);
    return e as WebSocketProtocolError;
  }
  throw new Error("accepted");
}

describe("client frames", () => {
  it("are masked with the key given, in the three length forms", () => {
    const mask = new Uint8Array([1, 2, 3, 4]);
    for (const n of [0, 125, 126, 65535, 65536]) {
      const payload = new Uint8Array(n).map((_, i) => i & 0xff);
      const frame = encodeFrame(OPCODE.binary, payload, mask);
      expect(frame[0]).toBe(0x82);
      expect(frame[1]! & 0x80).toBe(0x80);
      const header = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
      expect(frame.length).toBe(header + 4 + n);
      expect([...frame.subarray(header, header + 4)]).toEqual([1, 2, 3, 4]);
      const unmasked = frame.subarray(header + 4).map((b, i) => b ^ mask[i & 3]!);
      expect(unmasked).toEqual(payload);
    }
  });

  it("refuse a control frame over 125 bytes and a mask that is not 4 bytes", () => {
    expect(() => encodeFrame(OPCODE.ping, new Uint8Array(126), new Uint8Array(4))).toThrow(
      /at most 125/,
    );
    expect(() => encodeFrame(OPCODE.text, new Uint8Array(1), new Uint8Array(3))).toThrow(/4 bytes/);
  });

  it("close payloads carry the code and a reason of at most 123 bytes", () => {
    expect([...closePayload(1000, "ok")]).toEqual([0x03, 0xe8, 0x6f, 0x6b]);
    expect(closePayload().length).toBe(0);
    expect(() => closePayload(1000, "x".repeat(124))).toThrow(/123 bytes/);
  });
});

describe("server frames", () => {
  it("text, binary, ping, pong and close, from any split of the stream", () => {
    const stream = [
      serverFrame(OPCODE.text, text("héllo")),
      serverFrame(OPCODE.binary, new Uint8Array([0, 255])),
      serverFrame(OPCODE.ping, text("p")),
      serverFrame(OPCODE.pong, text("q")),
      serverFrame(OPCODE.close, closePayload(1001, "bye")),
    ];
    const bytes = new Uint8Array(stream.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of stream) {
      bytes.set(f, at);
      at += f.length;
    }
    const expected: ServerEvent[] = [
      { type: "text", data: "héllo" },
      { type: "binary", data: new Uint8Array([0, 255]) },
      { type: "ping", data: text("p") },
      { type: "pong", data: text("q") },
      { type: "close", code: 1001, reason: "bye" },
    ];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 }), (cuts) => {
        expect(decodeAll(bytes, cuts)).toEqual(expected);
      }),
    );
  });

  it("reassembles a fragmented message with control frames between its fragments", () => {
    const bytes = [
      serverFrame(OPCODE.text, text("hé"), { fin: false }),
      serverFrame(OPCODE.ping, text("x")),
      serverFrame(OPCODE.continuation, text("llo "), { fin: false }),
      serverFrame(OPCODE.continuation, text("wörld")),
    ];
    const decoder = new FrameDecoder();
    const events = bytes.flatMap((b) => decoder.push(b));
    expect(events).toEqual([
      { type: "ping", data: text("x") },
      { type: "text", data: "héllo wörld" },
    ]);
  });

  it("a multi-byte character split across fragments is whole in the message", () => {
    const euro = text("€");
    const decoder = new FrameDecoder();
    decoder.push(serverFrame(OPCODE.text, euro.subarray(0, 1), { fin: false }));
    expect(decoder.push(serverFrame(OPCODE.continuation, euro.subarray(1)))).toEqual([
      { type: "text", data: "€" },
    ]);
  });

  it("an empty close frame has no code", () => {
    expect(decodeAll(serverFrame(OPCODE.close, new Uint8Array(0)))).toEqual([
      { type: "close", code: undefined, reason: "" },
    ]);
  });

  it("each violation is refused with its close code", () => {
    const cases: [Uint8Array, number, RegExp][] = [
      [serverFrame(OPCODE.text, text("a"), { mask: true }), 1002, /masked/],
      [serverFrame(OPCODE.text, text("a"), { rsv: 4 }), 1002, /reserved bits/],
      [serverFrame(0x3, text("a")), 1002, /unknown opcode 3/],
      [serverFrame(0xb, text("a")), 1002, /unknown opcode 11/],
      [serverFrame(OPCODE.ping, text("a"), { fin: false }), 1002, /fragmented control/],
      [serverFrame(OPCODE.ping, new Uint8Array(126)), 1002, /over 125/],
      [serverFrame(OPCODE.continuation, text("a")), 1002, /continuation with no message/],
      [
        new Uint8Array([
          ...serverFrame(OPCODE.text, text("a"), { fin: false }),
          ...serverFrame(OPCODE.text, text("b")),
        ]),
        1002,
        /new message inside/,
      ],
      [serverFrame(OPCODE.text, new Uint8Array([0xc3, 0x28])), 1007, /not valid UTF-8/],
      [serverFrame(OPCODE.close, new Uint8Array([3])), 1002, /1 byte/],
      [serverFrame(OPCODE.close, closePayload(1005)), 1002, /close code 1005/],
      [serverFrame(OPCODE.close, closePayload(999)), 1002, /close code 999/],
      [serverFrame(OPCODE.close, closePayload(5000)), 1002, /close code 5000/],
      [
        serverFrame(OPCODE.close, new Uint8Array([0x03, 0xe8, 0xff])),
        1007,
        /reason is not valid UTF-8/,
      ],
      [serverFrame(OPCODE.binary, new Uint8Array(5), { longForm: true }), 1002, /shortest form/],
      [new Uint8Array([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]), 1002, /top bit/],
    ];
    for (const [bytes, code, message] of cases) {
      const error = refused(bytes);
      expect(error.code, String(message)).toBe(code);
      expect(error.message).toMatch(message);
    }
  });

  it("a frame over the limit is refused from its header alone, before its payload arrives", () => {
    // Only the 10-byte header of a 1 GiB frame: refused, nothing buffered.
    const header = new Uint8Array([0x82, 127, 0, 0, 0, 0, 0x40, 0, 0, 0]);
    const error = refused(header);
    expect(error.code).toBe(1009);
    expect(error.message).toMatch(/1073741824 bytes is over the limit/);
    const small = refused(serverFrame(OPCODE.binary, new Uint8Array(200)), { maxFrame: 100 });
    expect(small.code).toBe(1009);
  });

  it("a message over the limit is refused as its fragments arrive", () => {
    const decoder = new FrameDecoder({ maxFrame: 100, maxMessage: 250 });
    decoder.push(serverFrame(OPCODE.binary, new Uint8Array(100), { fin: false }));
    decoder.push(serverFrame(OPCODE.continuation, new Uint8Array(100), { fin: false }));
    expect(decoder.buffered).toBe(200);
    expect(() =>
      decoder.push(serverFrame(OPCODE.continuation, new Uint8Array(100), { fin: false })),
    ).toThrow(/over the limit of 250 bytes/);
    expect(() => decoder.push(new Uint8Array(1))).toThrow(/already failed/);
  });

  it("garbage never throws anything but a protocol error, and never holds more than its limits", () => {
    const limits = { maxFrame: 1000, maxMessage: 3000 };
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
        const decoder = new FrameDecoder(limits);
        for (const chunk of chunks) {
          try {
            decoder.push(chunk);
          } catch (e) {
            expect(e).toBeInstanceOf(WebSocketProtocolError);
            return;
          }
          expect(decoder.buffered).toBeLessThanOrEqual(limits.maxMessage + limits.maxFrame + 14);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("any sequence of valid frames round-trips, whatever the split", () => {
    const message = fc.oneof(
      fc.record({ type: fc.constant("text" as const), data: fc.string({ maxLength: 300 }) }),
      fc.record({ type: fc.constant("binary" as const), data: fc.uint8Array({ maxLength: 300 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(message, fc.integer({ min: 1, max: 4 })), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (messages, cuts) => {
          const frames: number[] = [];
          for (const [m, pieces] of messages) {
            const bytes = m.type === "text" ? text(m.data) : m.data;
            const size = Math.ceil(bytes.length / pieces) || 1;
            let first = true;
            for (let at = 0; first || at < bytes.length; at += size) {
              const end = Math.min(bytes.length, at + size);
              const opcode = first ? (m.type === "text" ? OPCODE.text : OPCODE.binary) : 0;
              frames.push(
                ...serverFrame(opcode, bytes.subarray(at, end), { fin: end >= bytes.length }),
              );
              first = false;
            }
          }
          const all = new Uint8Array(frames);
          const events = decodeAll(
            all,
            cuts.map((c) => c % (all.length + 1)),
          );
          expect(events).toEqual(messages.map(([m]) => m));
        },
      ),
    );
  });
});
