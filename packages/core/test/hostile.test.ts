/**
 * Hostile input: random datagrams and real messages with one field corrupted, fed to devices with
 * live sessions. Nothing may throw, every bad datagram is counted exactly once in `rejections`, the
 * sessions keep working, and no internal table grows. Also properties of `decodeMessage`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CookieJar } from "../src/cookie.js";
import { nodeCrypto } from "../src/crypto/node.js";
import type { Device, UdpEndpoint } from "../src/device.js";
import {
  checkShape,
  decodeMessage,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  encodeTransportData,
} from "../src/messages.js";
import { ENDPOINT, other, type Side, udpPacket } from "./sim.js";
import { Clocked, recordingCrypto } from "./virtual.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(28));
const totalRejections = (d: Device) => [...d.rejections.values()].reduce((x, y) => x + y, 0);

function deliverAll(pair: Clocked): void {
  for (let i = 0; i < 100 && pair.inFlight.length > 0; i++) pair.deliver(0);
  expect(pair.inFlight).toHaveLength(0);
}

/**
 * A pair with a live session both ways, and a capture of one real message of every type: the
 * initiation and response of its handshake, a cookie reply (from a responder under load), and
 * transport data each way that is still in flight (valid, not yet received).
 */
function live(seed: string) {
  const pair = new Clocked({ seed, crypto: recordingCrypto() });
  pair.send("a", "hello");
  const initiation = pair.inFlight[0]!.data.slice();
  pair.deliver(0);
  const response = pair.inFlight[0]!.data.slice();
  deliverAll(pair);
  pair.send("b", "hi");
  deliverAll(pair);
  expect(pair.converged()).toBe(true);
  // A cookie reply: the same initiation sent to a responder under load.
  const loaded = new Clocked({ seed: `${seed}/loaded`, underLoadThreshold: 0 });
  loaded.send("a", "x");
  const cookieReply = loaded.deliver(0).datagrams[0]!.data.slice();
  expect(cookieReply[0]).toBe(3);
  pair.send("a", "pending to b");
  pair.send("b", "pending to a");
  const pending = pair.inFlight.splice(0).map((m) => m.data);
  return {
    pair,
    messages: { initiation, response, cookieReply, toB: pending[0]!, toA: pending[1]! },
  };
}

/** Checks both directions still carry data, then returns to a quiet state. */
function stillWorks(pair: Clocked, tag: string): void {
  const before = { a: pair.delivered.a.length, b: pair.delivered.b.length };
  pair.now += 1;
  pair.send("a", `${tag} a→b`);
  pair.send("b", `${tag} b→a`);
  deliverAll(pair);
  expect(pair.delivered.b.slice(before.b).map((d) => text(d.data))).toEqual([`${tag} a→b`]);
  expect(pair.delivered.a.slice(before.a).map((d) => text(d.data))).toEqual([`${tag} b→a`]);
}

const source = fc.record({
  address: fc.oneof(
    fc.constant(ENDPOINT.a.address),
    fc.constant(ENDPOINT.b.address),
    fc.ipV4(),
    fc.ipV6(),
  ),
  port: fc.integer({ min: 0, max: 65535 }),
});

/** Byte strings that often look like WireGuard messages: right type, zero reserved, right length. */
const datagram = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 200 }),
  fc
    .tuple(
      fc.constantFrom(1, 2, 3, 4),
      fc.constantFrom(148, 92, 64, 32, 48, 33, 1452, 147, 93),
      fc.uint8Array({ minLength: 1500, maxLength: 1500 }),
    )
    .map(([type, length, noise]) => {
      const bytes = noise.slice(0, length);
      bytes.set([type, 0, 0, 0]);
      return bytes;
    }),
);

type Field = { name: string; start: number; end: number };
const FIELDS: Record<"initiation" | "response" | "cookieReply" | "transport", Field[]> = {
  initiation: [
    { name: "type", start: 0, end: 1 },
    { name: "reserved", start: 1, end: 4 },
    { name: "sender", start: 4, end: 8 },
    { name: "ephemeral", start: 8, end: 40 },
    { name: "static", start: 40, end: 88 },
    { name: "timestamp", start: 88, end: 116 },
    { name: "mac1", start: 116, end: 132 },
    { name: "mac2", start: 132, end: 148 },
  ],
  response: [
    { name: "type", start: 0, end: 1 },
    { name: "reserved", start: 1, end: 4 },
    { name: "sender", start: 4, end: 8 },
    { name: "receiver", start: 8, end: 12 },
    { name: "ephemeral", start: 12, end: 44 },
    { name: "empty", start: 44, end: 60 },
    { name: "mac1", start: 60, end: 76 },
    { name: "mac2", start: 76, end: 92 },
  ],
  cookieReply: [
    { name: "type", start: 0, end: 1 },
    { name: "reserved", start: 1, end: 4 },
    { name: "receiver", start: 4, end: 8 },
    { name: "nonce", start: 8, end: 32 },
    { name: "cookie", start: 32, end: 64 },
  ],
  transport: [
    { name: "type", start: 0, end: 1 },
    { name: "reserved", start: 1, end: 4 },
    { name: "receiver", start: 4, end: 8 },
    { name: "counter", start: 8, end: 16 },
    { name: "ciphertext", start: 16, end: -16 },
    { name: "tag", start: -16, end: 0 },
  ],
};

type Corruption =
  | { kind: "flip"; field: number; offset: number; mask: number }
  | { kind: "length"; delta: number };

const corruption: fc.Arbitrary<Corruption> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    field: fc.nat(),
    offset: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("length" as const),
    delta: fc.constantFrom(-1, 1, -16, 16),
  }),
);

function corrupt(
  message: Uint8Array,
  fields: Field[],
  c: Corruption,
): { bytes: Uint8Array; what: string } {
  if (c.kind === "length") {
    if (c.delta < 0) return { bytes: message.slice(0, message.length + c.delta), what: "shorter" };
    const longer = new Uint8Array(message.length + c.delta);
    longer.set(message);
    return { bytes: longer, what: "longer" };
  }
  const field = fields[c.field % fields.length]!;
  const start = field.start < 0 ? message.length + field.start : field.start;
  const end = field.end <= 0 ? message.length + field.end : field.end;
  const bytes = message.slice();
  bytes[start + (c.offset % (end - start))]! ^= c.mask;
  return { bytes, what: field.name };
}

describe("hostile datagrams against live sessions", () => {
  it("random datagrams: no exception, each counted once, sessions unaffected", () => {
    const { pair } = live("random");
    const statsBefore = { a: pair.devices.a.stats, b: pair.devices.b.stats };
    let round = 0;
    fc.assert(
      fc.property(
        fc.constantFrom<Side>("a", "b"),
        datagram,
        source,
        fc.nat({ max: 3 }),
        (side, bytes, from, step) => {
          const device = pair.devices[side];
          pair.now += step;
          const before = totalRejections(device);
          const out = device.receive(pair.now, bytes, from);
          expect(out.packets).toEqual([]);
          expect(out.datagrams).toEqual([]);
          expect(totalRejections(device)).toBe(before + 1);
          if (++round % 100 === 0) stillWorks(pair, `round ${round}`);
        },
      ),
      { numRuns: 1_000 },
    );
    stillWorks(pair, "end");
    expect(pair.devices.a.stats).toEqual(statsBefore.a);
    expect(pair.devices.b.stats).toEqual(statsBefore.b);
  });

  it("real messages of every type with one field corrupted: rejected, counted, harmless", () => {
    const { pair, messages } = live("corrupt");
    const statsBefore = { a: pair.devices.a.stats, b: pair.devices.b.stats };
    const kinds = [
      ["initiation", messages.initiation, "b"],
      ["response", messages.response, "a"],
      ["cookieReply", messages.cookieReply, "a"],
      ["transport", messages.toB, "b"],
      ["transport", messages.toA, "a"],
    ] as const;
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(
        fc.nat({ max: kinds.length - 1 }),
        corruption,
        fc.boolean(),
        (k, c, toIntendedSide) => {
          const [kind, message, intended] = kinds[k]!;
          const { bytes, what } = corrupt(message, FIELDS[kind], c);
          // To its real recipient, or to the other device (which must reject it just as well).
          const side: Side = toIntendedSide ? intended : other(intended);
          const device = pair.devices[side];
          const before = totalRejections(device);
          pair.now += 1;
          const out = device.receive(pair.now, bytes, ENDPOINT[other(side)]);
          expect(out.packets).toEqual([]);
          expect(out.datagrams).toEqual([]);
          expect(totalRejections(device)).toBe(before + 1);
          seen.set(`${kind}/${what}`, (seen.get(`${kind}/${what}`) ?? 0) + 1);
        },
      ),
      { numRuns: 2_000 },
    );
    // Every field of every type was hit.
    for (const [kind, fields] of Object.entries(FIELDS)) {
      for (const f of fields) expect(seen.get(`${kind}/${f.name}`) ?? 0).toBeGreaterThan(0);
    }
    // The valid transport messages that were corrupted so often are still accepted, once.
    pair.absorb("b", pair.devices.b.receive(pair.now, messages.toB, ENDPOINT.a), 1);
    pair.absorb("a", pair.devices.a.receive(pair.now, messages.toA, ENDPOINT.b), 1);
    expect(text(pair.delivered.b.at(-1)!.data)).toBe("pending to b");
    expect(text(pair.delivered.a.at(-1)!.data)).toBe("pending to a");
    pair.inFlight = []; // keepalives answering them
    stillWorks(pair, "after corruption");
    expect(pair.devices.a.stats).toEqual(statsBefore.a);
    expect(pair.devices.b.stats).toEqual(statsBefore.b);
  });

  it("100k garbage datagrams from many sources leave every internal table as it was", () => {
    const { pair, messages } = live("flood");
    const b = pair.devices.b;
    // Let the pending transport message arrive first: from then on, every copy is a replay.
    pair.absorb("b", b.receive(pair.now, messages.toB, ENDPOINT.a), 1);
    pair.inFlight = [];
    const before = b.stats;
    const rejectedBefore = totalRejections(b);
    const random = fc.sample(datagram, { numRuns: 1_000, seed: 7 });
    for (let i = 0; i < 100_000; i++) {
      const from: UdpEndpoint = {
        address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        port: i & 0xffff,
      };
      // Random bytes and replays of real messages (the initiation has a valid mac1, so each of
      // its copies costs a DH before it is found to be a replay: fewer of those).
      const bytes =
        i % 20 === 0
          ? messages.initiation
          : i % 4 === 1
            ? messages.toB
            : random[i % random.length]!;
      b.receive(pair.now + Math.floor(i / 1_000), bytes, from);
    }
    pair.now += 100;
    expect(totalRejections(b) - rejectedBefore).toBe(100_000);
    expect(b.stats).toEqual(before);
    stillWorks(pair, "after the flood");
  });

  it("under load, the rate limiter's table stays bounded however many sources earn a cookie", () => {
    const pair = new Clocked({ seed: "buckets", crypto: recordingCrypto() });
    pair.restart("b", { underLoadThreshold: 0 });
    pair.send("a", "x");
    const initiation = pair.inFlight.splice(0)[0]!.data;
    const b = pair.devices.b;
    // An attacker that knows B's public key and receives at many addresses can get a cookie for
    // each address and send handshake messages with a valid mac2 from all of them.
    const jar = new CookieJar(nodeCrypto, pair.keys.b);
    const sources = 4_500;
    for (let i = 0; i < sources; i++) {
      const from = { address: `198.18.${i >> 8}.${i & 255}`, port: 4242 };
      const message = initiation.slice();
      jar.addMacs(pair.now, message); // mac1 only: no cookie for this address yet
      const reply = b.receive(pair.now, message, from).datagrams[0]!.data;
      const decoded = decodeMessage(reply);
      if (!decoded.ok || decoded.message.type !== 3) throw new Error("expected a cookie reply");
      expect(jar.consumeReply(pair.now, decoded.message)).toBe(true);
      jar.addMacs(pair.now, message); // now with this address's mac2
      b.receive(pair.now, message, from);
      pair.now += i % 100 === 0 ? 1 : 0;
    }
    const stats = b.stats;
    // All within 50 ms: the table fills up to its cap and refuses sources beyond it.
    expect(stats.rateLimiterBuckets).toBe(4_096);
    expect(b.rejections.get("rate-limited")).toBe(sources - 4_096);
    // The first message was a real initiation (one keypair); all the others were replays.
    expect(stats.indices).toBe(1);
    expect(b.rejections.get("replayed-timestamp")).toBe(4_096 - 1);
    // Buckets idle for more than a second are reclaimed when new sources arrive.
    pair.now += 2_000;
    for (let i = 0; i < 10; i++) {
      const from = { address: `198.19.0.${i}`, port: 4242 };
      const message = initiation.slice();
      jar.addMacs(pair.now, message);
      const reply = decodeMessage(b.receive(pair.now, message, from).datagrams[0]!.data);
      if (!reply.ok || reply.message.type !== 3) throw new Error("expected a cookie reply");
      jar.consumeReply(pair.now, reply.message);
      jar.addMacs(pair.now, message);
      b.receive(pair.now, message, from);
    }
    expect(b.stats.rateLimiterBuckets).toBeLessThanOrEqual(10);
  });
});

describe("full-size packets", () => {
  it("delivers IP packets of exactly the MTU, which are sent unpadded (not a multiple of 16)", () => {
    const pair = new Clocked({ seed: "mtu" });
    pair.send("a", "hello");
    deliverAll(pair);
    for (const size of [1420, 1419, 1408, 1500]) {
      const packet = udpPacket("a", new Uint8Array(size - 28).fill(7));
      pair.send("a", "");
      pair.inFlight = [];
      pair.absorb("a", pair.devices.a.send(pair.now, packet), 0);
      const sentLength = pair.inFlight[0]!.data.length;
      expect(sentLength).toBe(32 + Math.max(size, Math.min(1420, Math.ceil(size / 16) * 16)));
      deliverAll(pair);
      expect(pair.delivered.b.at(-1)!.data.length).toBe(size);
    }
  });
});

describe("decodeMessage", () => {
  const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });

  it("never throws, and accepts exactly the well-shaped datagrams", () => {
    fc.assert(
      fc.property(fc.oneof(datagram, fc.uint8Array({ maxLength: 70_000 })), (d) => {
        const result = decodeMessage(d);
        const shaped =
          d.length <= 65_535 &&
          d.length >= 4 &&
          d[1] === 0 &&
          d[2] === 0 &&
          d[3] === 0 &&
          ((d[0] === 1 && d.length === 148) ||
            (d[0] === 2 && d.length === 92) ||
            (d[0] === 3 && d.length === 64) ||
            (d[0] === 4 && d.length >= 32));
        expect(result.ok).toBe(shaped);
        const shape = checkShape(d);
        expect(typeof shape === "number").toBe(shaped);
        if (result.ok) {
          expect(result.message.type).toBe(d[0]);
          expect(result.message.bytes).toBe(d);
        } else {
          expect(result.detail.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("round-trips every message type, with fields as views into the datagram", () => {
    fc.assert(
      fc.property(
        u32,
        u32,
        bytes(32),
        bytes(48),
        bytes(28),
        bytes(16),
        bytes(24),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.uint8Array({ minLength: 16, maxLength: 300 }),
        (
          sender,
          receiver,
          ephemeral,
          encryptedStatic,
          timestamp,
          empty,
          nonce,
          counter,
          sealed,
        ) => {
          const initiation = decodeMessage(
            encodeInitiation({
              sender,
              ephemeral,
              encryptedStatic,
              encryptedTimestamp: timestamp,
            }),
          );
          if (!initiation.ok || initiation.message.type !== 1) throw new Error("initiation");
          expect(initiation.message.sender).toBe(sender);
          expect(initiation.message.ephemeral).toEqual(ephemeral);
          expect(initiation.message.encryptedStatic).toEqual(encryptedStatic);
          expect(initiation.message.encryptedTimestamp).toEqual(timestamp);
          expect(initiation.message.ephemeral.buffer).toBe(initiation.message.bytes.buffer);

          const response = decodeMessage(
            encodeResponse({ sender, receiver, ephemeral, encryptedNothing: empty }),
          );
          if (!response.ok || response.message.type !== 2) throw new Error("response");
          expect([response.message.sender, response.message.receiver]).toEqual([sender, receiver]);
          expect(response.message.ephemeral).toEqual(ephemeral);
          expect(response.message.encryptedNothing).toEqual(empty);

          const cookie = decodeMessage(
            encodeCookieReply({
              receiver,
              nonce,
              encryptedCookie: encryptedStatic.subarray(0, 32),
            }),
          );
          if (!cookie.ok || cookie.message.type !== 3) throw new Error("cookie reply");
          expect(cookie.message.receiver).toBe(receiver);
          expect(cookie.message.nonce).toEqual(nonce);
          expect(cookie.message.encryptedCookie).toEqual(encryptedStatic.subarray(0, 32));

          const transport = decodeMessage(encodeTransportData(receiver, counter, sealed));
          if (!transport.ok || transport.message.type !== 4) throw new Error("transport");
          expect(transport.message.receiver).toBe(receiver);
          expect(transport.message.counter).toBe(counter);
          expect(transport.message.encrypted).toEqual(sealed);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("an encoder refuses fields of the wrong size or indices out of range", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -1000, max: -1 }), fc.integer({ min: 2 ** 32, max: 2 ** 40 })),
        (bad) => {
          expect(() => encodeTransportData(bad, 0n, new Uint8Array(16))).toThrow(RangeError);
        },
      ),
    );
    expect(() => encodeTransportData(1, 0n, new Uint8Array(15))).toThrow(RangeError);
    expect(() =>
      encodeResponse({
        sender: 1,
        receiver: 2,
        ephemeral: new Uint8Array(31),
        encryptedNothing: new Uint8Array(16),
      }),
    ).toThrow(RangeError);
  });
});
