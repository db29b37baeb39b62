import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ControlFrame,
  decodeFrameBody,
  encodeFrame,
  FrameReader,
  MAX_FRAME_SIZE,
  MAX_TOKEN_LENGTH,
  validateFrame,
} from "../src/frames.js";

const utf8 = new TextEncoder();

function frameBytes(body: string | Uint8Array): Uint8Array {
  const bytes = typeof body === "string" ? utf8.encode(body) : body;
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

const samples: ControlFrame[] = [
  { type: "hello", version: 1, token: "secret", upstream: "demo" },
  { type: "hello", version: 1, upstream: "wg-1.example" },
  { type: "hello", version: 1, upstream: "demo", publicKey: `${"A".repeat(43)}=` },
  { type: "hello", version: 1, upstream: "demo", carriage: "auto" },
  { type: "hello", version: 1, upstream: "demo", carriage: "datagrams" },
  {
    type: "welcome",
    sessionId: "s",
    transport: "websocket",
    datagramSize: 1452,
    carriage: "stream",
    carriageReason: "auto: why",
  },
  { type: "welcome", sessionId: "abc", transport: "http2", datagramSize: 1452 },
  {
    type: "welcome",
    sessionId: "i",
    transport: "websocket",
    datagramSize: 1452,
    idleTimeoutMs: 120_000,
  },
  {
    type: "welcome",
    sessionId: "c",
    transport: "http3",
    datagramSize: 1211,
    closeToken: "0123456789abcdef0123456789abcdef",
  },
  { type: "welcome", sessionId: "q", transport: "http3", datagramSize: 1211, messageSize: 1452 },
  {
    type: "welcome",
    sessionId: "d",
    transport: "http3",
    datagramSize: 1211,
    addresses: ["10.99.0.7/32", "fd99::2:0:0:7/128"],
  },
  { type: "error", code: "oversized", message: "too big", limit: 1452 },
  { type: "error", code: "unauthorized", message: "bad token" },
  { type: "stats-request" },
  {
    type: "stats",
    toUpstream: { datagrams: 3, bytes: 444 },
    toClient: { datagrams: 2, bytes: 300 },
    drops: { malformed: 1, rate: 0 },
  },
  {
    type: "stats",
    toUpstream: { datagrams: 3, bytes: 444 },
    toClient: { datagrams: 2, bytes: 300 },
    drops: {},
    transportLosses: { expiredToClient: 2817, lostToClient: 4, droppedFromClient: 0 },
  },
];

describe("control frames", () => {
  it("round-trips every frame type, also when split across chunks", () => {
    const all = new Uint8Array(samples.reduce((n, f) => n + encodeFrame(f).length, 0));
    let offset = 0;
    for (const frame of samples) {
      const bytes = encodeFrame(frame);
      all.set(bytes, offset);
      offset += bytes.length;
    }
    for (const chunkSize of [1, 3, 7, all.length]) {
      const reader = new FrameReader();
      const decoded: ControlFrame[] = [];
      for (let i = 0; i < all.length; i += chunkSize) {
        for (const r of reader.push(all.subarray(i, i + chunkSize))) {
          expect(r.ok).toBe(true);
          if (r.ok) decoded.push(r.frame);
        }
      }
      expect(decoded).toEqual(samples);
      expect(reader.pending).toBe(0);
    }
  });

  it("rejects with precise reasons", () => {
    expect(decodeFrameBody(utf8.encode("[1]"))).toMatchObject({ ok: false, reason: "not-object" });
    expect(decodeFrameBody(utf8.encode("{"))).toMatchObject({ ok: false, reason: "not-json" });
    expect(decodeFrameBody(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({
      ok: false,
      reason: "not-utf8",
    });
    expect(validateFrame({ type: "nope" })).toMatchObject({ ok: false, reason: "unknown-type" });
    expect(validateFrame({ type: "hello", version: 1, upstream: "a b" })).toMatchObject({
      ok: false,
      reason: "bad-field",
      detail: expect.stringContaining("upstream"),
    });
    expect(
      validateFrame({
        type: "welcome",
        sessionId: "x",
        transport: "carrier-pigeon",
        datagramSize: 1,
      }),
    ).toMatchObject({ ok: false, detail: expect.stringContaining("transport") });
    expect(
      validateFrame({
        type: "welcome",
        sessionId: "x",
        transport: "http3",
        datagramSize: 1211,
        messageSize: 1200,
      }),
    ).toMatchObject({
      ok: false,
      detail: "welcome: messageSize must be an integer in datagramSize..65535",
    });
    expect(
      validateFrame({ type: "hello", version: 1, upstream: "demo", publicKey: "short=" }),
    ).toMatchObject({ ok: false, detail: "hello: publicKey must be a base64 WireGuard key" });
    // A signed token with an identity provider's claims fits; one beyond the limit is refused.
    const hello = { type: "hello", version: 1, upstream: "demo" };
    expect(validateFrame({ ...hello, token: "t".repeat(MAX_TOKEN_LENGTH) })).toMatchObject({
      ok: true,
    });
    expect(validateFrame({ ...hello, token: "t".repeat(MAX_TOKEN_LENGTH + 1) })).toMatchObject({
      ok: false,
      detail: `hello: token must be a string of at most ${MAX_TOKEN_LENGTH} characters`,
    });
    expect(
      encodeFrame({ ...hello, type: "hello", token: "t".repeat(MAX_TOKEN_LENGTH) }).length,
    ).toBeLessThan(MAX_FRAME_SIZE);
    expect(
      validateFrame({ type: "hello", version: 1, upstream: "demo", carriage: "pigeon" }),
    ).toMatchObject({
      ok: false,
      detail: "hello: carriage must be one of datagrams, stream, auto",
    });
    const welcome = { type: "welcome", sessionId: "x", transport: "http3", datagramSize: 1211 };
    expect(validateFrame({ ...welcome, carriage: "auto" })).toMatchObject({
      ok: false,
      detail: "welcome: carriage must be datagrams or stream",
    });
    expect(validateFrame({ ...welcome, carriageReason: "x".repeat(201) })).toMatchObject({
      ok: false,
      detail: "welcome: carriageReason must be a string of at most 200 characters",
    });
    for (const closeToken of ["", "0123456789ABCDEF0123456789ABCDEF", "ab".repeat(17), 7]) {
      expect(validateFrame({ ...welcome, closeToken })).toMatchObject({
        ok: false,
        detail: "welcome: closeToken must be 32 hex digits",
      });
    }
    for (const idleTimeoutMs of [0, -1, 1.5, "120000"]) {
      expect(validateFrame({ ...welcome, idleTimeoutMs })).toMatchObject({
        ok: false,
        detail: "welcome: idleTimeoutMs must be a positive integer",
      });
    }
    for (const addresses of [
      "10.0.0.1/32",
      ["10.0.0.1"],
      ["x".repeat(50)],
      Array(9).fill("::1/128"),
    ])
      expect(
        validateFrame({
          type: "welcome",
          sessionId: "x",
          transport: "http3",
          datagramSize: 1,
          addresses,
        }),
      ).toMatchObject({ ok: false, detail: expect.stringContaining("addresses") });
    expect(
      validateFrame({ type: "error", code: "oversized", message: "m", limit: -1 }),
    ).toMatchObject({ ok: false, detail: expect.stringContaining("limit") });
    expect(
      validateFrame({
        type: "stats",
        toUpstream: { datagrams: 1, bytes: 1 },
        toClient: {},
        drops: {},
      }),
    ).toMatchObject({ ok: false, detail: expect.stringContaining("toClient.datagrams") });
    const stats = {
      type: "stats",
      toUpstream: { datagrams: 0, bytes: 0 },
      toClient: { datagrams: 0, bytes: 0 },
      drops: {},
    };
    const counts = { expiredToClient: 1, lostToClient: 2, droppedFromClient: 3 };
    for (const [transportLosses, detail] of [
      [null, "stats: transportLosses must be an object"],
      [[1, 2, 3], "stats: transportLosses must be an object"],
      [
        { ...counts, expiredToClient: -1 },
        "stats: transportLosses.expiredToClient must be a non-negative integer",
      ],
      [
        { ...counts, lostToClient: 1.5 },
        "stats: transportLosses.lostToClient must be a non-negative integer",
      ],
      [
        { expiredToClient: 1, lostToClient: 2 },
        "stats: transportLosses.droppedFromClient must be a non-negative integer",
      ],
      [
        { ...counts, droppedFromClient: 2 ** 53 },
        "stats: transportLosses.droppedFromClient must be a non-negative integer",
      ],
    ] as const)
      expect(validateFrame({ ...stats, transportLosses })).toEqual({
        ok: false,
        reason: "bad-field",
        detail,
      });
    expect(validateFrame({ ...stats, transportLosses: { ...counts, extra: 9 } })).toEqual({
      ok: true,
      frame: { ...stats, transportLosses: counts },
    });
  });

  it("refuses an announced length over the cap without buffering it", () => {
    const reader = new FrameReader();
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_SIZE + 1);
    expect(reader.push(header)).toEqual([
      expect.objectContaining({ ok: false, reason: "too-large" }),
    ]);
    expect(reader.push(encodeFrame({ type: "stats-request" }))).toEqual([]);
    expect(reader.pending).toBe(0);
  });

  it("copies only known fields", () => {
    const r = validateFrame({ type: "hello", version: 1, upstream: "demo", extra: "x" });
    expect(r).toEqual({ ok: true, frame: { type: "hello", version: 1, upstream: "demo" } });
  });

  it("never throws on arbitrary bytes (fuzz)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const reader = new FrameReader();
        for (const chunk of chunks) {
          for (const r of reader.push(chunk)) {
            if (!r.ok) expect(r.detail.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary JSON and accepts only valid frames (fuzz)", () => {
    const frameLike = fc.record(
      {
        type: fc.constantFrom("hello", "welcome", "error", "stats", "stats-request", "x"),
        version: fc.anything(),
        token: fc.anything(),
        upstream: fc.oneof(fc.string(), fc.anything()),
        sessionId: fc.anything(),
        transport: fc.constantFrom("http2", "http3", "websocket", 7),
        datagramSize: fc.oneof(fc.integer(), fc.anything()),
        code: fc.constantFrom("oversized", "limit", "bogus"),
        message: fc.anything(),
        limit: fc.anything(),
        toUpstream: fc.anything(),
        toClient: fc.anything(),
        drops: fc.anything(),
        transportLosses: fc.oneof(
          fc.anything(),
          fc.record(
            {
              expiredToClient: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.anything()),
              lostToClient: fc.oneof(fc.nat(), fc.anything()),
              droppedFromClient: fc.oneof(fc.nat(), fc.anything()),
            },
            { requiredKeys: [] },
          ),
        ),
      },
      { requiredKeys: ["type"] },
    );
    fc.assert(
      fc.property(fc.oneof(frameLike, fc.jsonValue()), (value) => {
        const text = JSON.stringify(value) ?? "null";
        const result = decodeFrameBody(utf8.encode(text));
        if (result.ok) {
          // An accepted frame re-encodes to an equal frame.
          const again = new FrameReader().push(encodeFrame(result.frame));
          expect(again).toEqual([{ ok: true, frame: result.frame }]);
          if (result.frame.type === "stats" && result.frame.transportLosses)
            for (const count of Object.values(result.frame.transportLosses))
              expect(Number.isSafeInteger(count) && count >= 0).toBe(true);
        } else {
          expect(result.detail).toMatch(/\S/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("accepts hand-written frames byte for byte", () => {
    const r = new FrameReader().push(frameBytes('{"type":"stats-request"}'));
    expect(r).toEqual([{ ok: true, frame: { type: "stats-request" } }]);
  });
});
