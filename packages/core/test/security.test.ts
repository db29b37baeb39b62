/**
 * Security behaviour (DESIGN.md C5 and the WireGuard paper §5): replay protection for handshakes
 * and data, mac1/mac2 and cookies under load, rate limits, key confirmation, allowed-IPs source
 * filtering and key erasure — each observed through what a device sends, delivers and rejects.
 */
import { describe, expect, it } from "vitest";
import { ANTI_REPLAY_WINDOW_SIZE } from "../src/anti-replay.js";
import { HANDSHAKE_RATE_BURST, INITIATION_FLOOD_INTERVAL } from "../src/constants.js";
import type { Output } from "../src/device.js";
import { ENDPOINT, TUNNEL, udpPacket } from "./sim.js";
import { Clocked, drive, recordingCrypto } from "./virtual.js";

const INITIATION = 1;
const RESPONSE = 2;
const COOKIE_REPLY = 3;
const TRANSPORT = 4;

const types = (out: Output) => out.datagrams.map((d) => d.data[0]);
const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(28));

function deliverAll(pair: Clocked): void {
  for (let i = 0; i < 100 && pair.inFlight.length > 0; i++) pair.deliver(0);
  expect(pair.inFlight).toHaveLength(0);
}

/** A pair with a recording backend (restarts, key inspection), handshake done by A at t = 0. */
function established(seed: string): { pair: Clocked; initiation: Uint8Array } {
  const pair = new Clocked({ seed, crypto: recordingCrypto() });
  pair.send("a", "hello");
  const initiation = pair.inFlight[0]!.data.slice();
  deliverAll(pair);
  expect(pair.delivered.b.map((d) => text(d.data))).toEqual(["hello"]);
  return { pair, initiation };
}

/** Captures the next initiation A makes at `now` (after a restart, which resets its rate limit). */
function freshInitiation(pair: Clocked, now: number): Uint8Array {
  pair.now = now;
  pair.restart("a");
  const out = pair.absorb("a", pair.devices.a.initiateHandshake(now, pair.keys.b), 0);
  expect(types(out)).toEqual([INITIATION]);
  return pair.inFlight.pop()!.data;
}

describe("replayed handshakes", () => {
  it("rejects an old initiation replayed after the initiator restarted and handshook again", () => {
    const { pair, initiation: before } = established("replay-restart");
    pair.now = 30_000;
    pair.restart("a");
    pair.send("a", "after restart");
    const after = pair.inFlight[0]!.data.slice();
    deliverAll(pair);
    expect(pair.delivered.b.map((d) => text(d.data))).toEqual(["hello", "after restart"]);
    expect(pair.converged()).toBe(true);
    const current = pair.devices.b.currentKeypair(pair.keys.a);
    pair.now = 31_000;
    for (const replay of [before, after]) {
      const out = pair.devices.b.receive(pair.now, replay, ENDPOINT.a);
      expect(out.datagrams).toEqual([]);
    }
    expect(pair.devices.b.rejections.get("replayed-timestamp")).toBe(2);
    expect(pair.devices.b.currentKeypair(pair.keys.a)).toEqual(current);
    pair.send("b", "still fine");
    deliverAll(pair);
    expect(pair.delivered.a.map((d) => text(d.data))).toEqual(["still fine"]);
  });

  it("a replay to a restarted responder gains nothing: it never sends on that keypair", () => {
    const { pair, initiation } = established("replay-responder-restart");
    pair.now = 30_000;
    pair.restart("b");
    // The restarted responder lost the last timestamp, so it answers the replayed initiation…
    const out = pair.absorb("b", pair.devices.b.receive(pair.now, initiation, ENDPOINT.a), 1);
    expect(types(out)).toEqual([RESPONSE]);
    pair.inFlight = []; // the attacker cannot use the response without A's ephemeral key
    // …but the keypair stays unconfirmed: data waits instead of going out on it.
    pair.now = 31_000;
    expect(types(pair.send("b", "to nobody"))).toEqual([]);
    expect(pair.devices.b.peerStatus(pair.keys.a)!.keypairs.map((k) => k.slot)).toEqual(["next"]);
  });
});

describe("replayed and old transport data", () => {
  it("accepts counter newest − 8128 once and rejects newest − 8129", () => {
    const { pair } = established("window");
    expect(ANTI_REPLAY_WINDOW_SIZE).toBe(8128);
    // "hello" used counter 0; hold counters 1 … 8131 in flight.
    for (let i = 1; i <= 8131; i++) pair.send("a", `p${i}`);
    const held = pair.inFlight.splice(0).map((m) => m.data);
    expect(held).toHaveLength(8131);
    const counterOf = (d: Uint8Array) =>
      Number(new DataView(d.buffer, d.byteOffset).getBigUint64(8, true));
    const byCounter = (c: number) => held.find((d) => counterOf(d) === c)!;
    const b = pair.devices.b;
    const receive = (d: Uint8Array) => pair.absorb("b", b.receive(pair.now, d, ENDPOINT.a), 1);
    const newest = 8131;
    receive(byCounter(newest));
    expect(pair.delivered.b).toHaveLength(2);
    receive(byCounter(newest - 8128));
    expect(pair.delivered.b.map((d) => text(d.data)).at(-1)).toBe(`p${newest - 8128}`);
    receive(byCounter(newest - 8128));
    expect(b.rejections.get("replayed-counter")).toBe(1);
    receive(byCounter(newest - 8129));
    expect(b.rejections.get("replayed-counter")).toBe(2);
    receive(byCounter(newest));
    expect(b.rejections.get("replayed-counter")).toBe(3);
    expect(pair.delivered.b).toHaveLength(3);
    // Reordered packets inside the window are all still accepted, each once.
    for (const c of [newest - 1, 100, newest - 2000, 5000]) receive(byCounter(c));
    for (const c of [newest - 1, 100]) receive(byCounter(c));
    expect(pair.delivered.b).toHaveLength(7);
    expect(b.rejections.get("replayed-counter")).toBe(5);
  });
});

describe("macs and cookies", () => {
  it("drops handshake messages with a bad mac1 silently, before any other work", () => {
    const pair = new Clocked({ seed: "mac1", underLoadThreshold: 0 });
    pair.send("a", "x");
    const initiation = pair.inFlight.pop()!.data;
    initiation[116]! ^= 0x80; // inside mac1
    const out = pair.devices.b.receive(pair.now, initiation, ENDPOINT.a);
    // Even under load (cookies required), a bad mac1 gets no cookie reply.
    expect(out.datagrams).toEqual([]);
    expect(pair.devices.b.rejections.get("mac1")).toBe(1);
    expect(pair.devices.b.rejections.get("cookie-required")).toBeUndefined();
    expect(pair.devices.b.peerStatus(pair.keys.a)!.keypairs).toEqual([]);
  });

  it("drops a response with a bad mac1 and keeps waiting for the real one", () => {
    const pair = new Clocked({ seed: "mac1-response" });
    pair.send("a", "x");
    pair.deliver(0);
    const response = pair.inFlight[0]!.data;
    const forged = response.slice();
    forged[20]! ^= 1;
    expect(pair.devices.a.receive(pair.now, forged, ENDPOINT.b).datagrams).toEqual([]);
    expect(pair.devices.a.rejections.get("mac1")).toBe(1);
    expect(pair.devices.a.peerStatus(pair.keys.b)!.handshake).toBe("initiation-sent");
    deliverAll(pair);
    expect(pair.delivered.b).toHaveLength(1);
  });

  it("under load answers with a cookie reply; the retry carries mac2 and succeeds", () => {
    const pair = new Clocked({ seed: "under-load", crypto: recordingCrypto() });
    pair.restart("b", { underLoadThreshold: 0 });
    pair.send("a", "x");
    const first = pair.inFlight[0]!.data.slice();
    expect(first.subarray(132).every((v) => v === 0)).toBe(true); // no mac2 without a cookie
    const reply = pair.deliver(0);
    expect(reply.datagrams).toHaveLength(1);
    expect(reply.datagrams[0]!.data.length).toBe(64);
    expect(reply.datagrams[0]!.data[0]).toBe(COOKIE_REPLY);
    expect(reply.datagrams[0]!.to).toEqual(ENDPOINT.a);
    expect(pair.devices.b.rejections.get("cookie-required")).toBe(1);
    expect(pair.devices.b.peerStatus(pair.keys.a)!.keypairs).toEqual([]);
    const stored = pair.deliver(0);
    expect(stored.events.map((e) => e.kind)).toContain("cookie-received");
    expect(stored.datagrams).toEqual([]);
    // The retry comes from the retransmit timer, with mac2.
    pair.now = pair.deadlines.a!;
    expect(types(pair.tickChecked("a"))).toEqual([INITIATION]);
    const retry = pair.inFlight[0]!.data.slice();
    expect(retry.subarray(132).some((v) => v !== 0)).toBe(true);
    expect(types(pair.deliver(0))).toEqual([RESPONSE]);
    deliverAll(pair);
    expect(pair.delivered.b.map((d) => text(d.data))).toEqual(["x"]);
    expect(pair.converged()).toBe(true);

    // The cookie is bound to A's address: the same message from elsewhere needs its own.
    const elsewhere = { address: "198.51.100.7", port: ENDPOINT.a.port };
    expect(types(pair.devices.b.receive(pair.now, retry, elsewhere))).toEqual([COOKIE_REPLY]);
  });

  it.each([
    ["address", "rate-limited"],
    ["endpoint", "answered"],
  ] as const)(
    "under load, one token bucket per %s: a second port of a limited address is %s",
    (rateLimitBy, expected) => {
      const pair = new Clocked({ seed: `rate-by-${rateLimitBy}`, crypto: recordingCrypto() });
      pair.restart("b", { underLoadThreshold: 0, rateLimitBy });
      pair.send("a", "x");
      pair.deliver(0); // → cookie reply
      pair.deliver(0); // → A stores the cookie
      pair.now = pair.deadlines.a!;
      pair.tickChecked("a");
      const withMac2 = pair.inFlight[0]!.data.slice();
      deliverAll(pair);
      expect(pair.converged()).toBe(true);
      const { a, b } = pair.devices;
      // A's address on another port (as another relay session would be) earns a cookie of its own.
      const otherPort = { ...ENDPOINT.a, port: ENDPOINT.a.port + 1 };
      pair.now += 5_500; // a new initiation waits REKEY_TIMEOUT after the last one
      const fresh = a.initiateHandshake(pair.now, pair.keys.b).datagrams[0]!.data;
      const cookie = b.receive(pair.now, fresh, otherPort);
      expect(types(cookie)).toEqual([COOKIE_REPLY]);
      a.receive(pair.now, cookie.datagrams[0]!.data, ENDPOINT.b);
      const later = pair.now + 6_000; // past the retransmit timer and its jitter
      const retry = a.tick(later).datagrams.find((d) => d.data[0] === INITIATION)!.data;
      // The first port spends its address's (or its own) bucket...
      for (let i = 0; i < 10; i++) b.receive(later, withMac2, ENDPOINT.a);
      const limited = b.rejections.get("rate-limited") ?? 0;
      expect(limited).toBe(10 - HANDSHAKE_RATE_BURST);
      // ...and the second port shares that bucket only when buckets are per address.
      const out = b.receive(later, retry, otherPort);
      if (expected === "rate-limited") {
        expect(types(out)).toEqual([]);
        expect(b.rejections.get("rate-limited")).toBe(limited + 1);
      } else {
        expect(types(out)).toEqual([RESPONSE]);
        expect(b.rejections.get("rate-limited")).toBe(limited);
      }
    },
  );

  it("under load limits each source to a burst of 5, refilled at 20 per second", () => {
    const pair = new Clocked({ seed: "rate", crypto: recordingCrypto() });
    pair.restart("b", { underLoadThreshold: 0 });
    pair.send("a", "x");
    pair.deliver(0); // → cookie reply
    pair.deliver(0); // → A stores the cookie
    pair.now = pair.deadlines.a!;
    pair.tickChecked("a");
    const withMac2 = pair.inFlight[0]!.data.slice();
    deliverAll(pair);
    expect(pair.converged()).toBe(true);
    const b = pair.devices.b;
    // Replays pass mac1 and mac2, so each takes a token before it is found to be a replay.
    const burst = (count: number) => {
      const before = b.rejections.get("rate-limited") ?? 0;
      for (let i = 0; i < count; i++) b.receive(pair.now, withMac2, ENDPOINT.a);
      return (b.rejections.get("rate-limited") ?? 0) - before;
    };
    pair.now += 2_000; // bucket full again
    expect(burst(10)).toBe(10 - HANDSHAKE_RATE_BURST);
    expect(b.rejections.get("replayed-timestamp")).toBe(HANDSHAKE_RATE_BURST);
    pair.now += 50; // 20/s: one token per 50 ms
    expect(burst(3)).toBe(2);
    pair.now += 49;
    expect(burst(1)).toBe(1);
    pair.now += 1_000;
    expect(burst(8)).toBe(8 - HANDSHAKE_RATE_BURST);
    // Other sources have their own buckets (they first get a cookie reply, not a refusal).
    expect(types(b.receive(pair.now, withMac2, { address: "203.0.113.9", port: 1 }))).toEqual([
      COOKIE_REPLY,
    ]);
    expect(b.stats.rateLimiterBuckets).toBe(1);
  });

  it("goes under load once the threshold of handshake messages per second is crossed", () => {
    const { pair, initiation } = established("threshold");
    pair.restart("b", { underLoadThreshold: 3 });
    const b = pair.devices.b;
    pair.now = 10_000;
    expect(types(b.receive(pair.now, initiation, ENDPOINT.a))).toEqual([RESPONSE]);
    expect(types(b.receive(pair.now, initiation, ENDPOINT.a))).toEqual([]); // replayed timestamp
    expect(types(b.receive(pair.now, initiation, ENDPOINT.a))).toEqual([COOKIE_REPLY]);
    // Sticky for a second after the last time the threshold was crossed.
    pair.now += 999;
    expect(types(b.receive(pair.now, initiation, ENDPOINT.a))).toEqual([COOKIE_REPLY]);
    pair.now += 1_001;
    expect(types(b.receive(pair.now, initiation, ENDPOINT.a))).toEqual([]);
    expect(b.rejections.get("replayed-timestamp")).toBe(2);
  });
});

describe("initiation flood", () => {
  it("consumes at most one initiation per peer every 20 ms", () => {
    const pair = new Clocked({ seed: "flood", crypto: recordingCrypto() });
    const first = freshInitiation(pair, 1_000);
    const second = freshInitiation(pair, 1_100); // a newer timestamp (more than 16.8 ms later)
    const b = pair.devices.b;
    pair.now = 2_000;
    expect(types(b.receive(pair.now, first, ENDPOINT.a))).toEqual([RESPONSE]);
    pair.now += INITIATION_FLOOD_INTERVAL - 1;
    expect(types(b.receive(pair.now, second, ENDPOINT.a))).toEqual([]);
    expect(b.rejections.get("initiation-flood")).toBe(1);
    // Refused, not recorded: the same message is taken once the interval has passed.
    pair.now += 1;
    expect(types(b.receive(pair.now, second, ENDPOINT.a))).toEqual([RESPONSE]);
    expect(b.rejections.get("initiation-flood")).toBe(1);
  });
});

describe("key confirmation", () => {
  it("the responder sends no transport data until the initiator's first packet arrives", () => {
    for (const firstFromA of ["data", "keepalive"] as const) {
      const pair = new Clocked({ seed: `confirm-${firstFromA}` });
      if (firstFromA === "data") pair.send("a", "first");
      else pair.absorb("a", pair.devices.a.initiateHandshake(0, pair.keys.b), 0);
      expect(types(pair.deliver(0))).toEqual([RESPONSE]);
      pair.now = 100;
      expect(types(pair.send("b", "early 1"))).toEqual([]);
      expect(types(pair.deliver(0))).toEqual([TRANSPORT]); // A: response → its first packet
      pair.now = 200;
      expect(types(pair.send("b", "early 2"))).toEqual([]);
      expect(pair.devices.b.peerStatus(pair.keys.a)!.stagedPackets).toBe(2);
      // Only A's packet confirms B's keypair; B's staged data goes out in that same call.
      const confirmed = pair.deliver(0);
      expect(types(confirmed)).toEqual([TRANSPORT, TRANSPORT]);
      expect(confirmed.events.map((e) => e.kind)).toContain("keypair-confirmed");
      deliverAll(pair);
      expect(pair.delivered.a.map((d) => text(d.data))).toEqual(["early 1", "early 2"]);
    }
  });

  it("holds through a lossy schedule with handshakes started by either side", () => {
    const pair = new Clocked({ seed: "confirm-schedule" });
    const u32 = (d: Uint8Array, at: number) =>
      new DataView(d.buffer, d.byteOffset).getUint32(at, true);
    /** Per handshake, by the initiator's index: who responded, and with which index. */
    const responses = new Map<number, { responder: "a" | "b"; index: number }>();
    /** Responder indices on which the initiator's first transport packet has arrived. */
    const confirmed = new Set<number>();
    let responderSends = 0;
    const absorb = pair.absorb.bind(pair);
    pair.absorb = (side, out, depth) => {
      for (const { data } of out.datagrams) {
        if (data[0] === RESPONSE)
          responses.set(u32(data, 8), { responder: side, index: u32(data, 4) });
        if (data[0] !== TRANSPORT) continue;
        const handshake = responses.get(u32(data, 4));
        if (handshake?.responder === side) {
          responderSends++;
          expect(confirmed.has(handshake.index)).toBe(true);
        }
      }
      return absorb(side, out, depth);
    };
    const deliver = pair.deliver.bind(pair);
    pair.deliver = (i) => {
      const m = pair.inFlight[i]!;
      if (m.data[0] === TRANSPORT) confirmed.add(u32(m.data, 4));
      return deliver(i);
    };
    const sends = Array.from({ length: 60 }, (_, i) => ({
      at: i * 3_100,
      side: i % 3 === 0 ? ("b" as const) : ("a" as const),
      text: `m${i}`,
    }));
    drive(pair, { until: 200_000, sends, drop: (m) => m.id % 7 === 3 });
    expect(responses.size).toBeGreaterThan(1);
    expect(new Set([...responses.values()].map((r) => r.responder)).size).toBe(2);
    expect(responderSends).toBeGreaterThan(10);
  });
});

describe("allowed IPs", () => {
  it("drops packets whose inner source belongs to another peer or to no peer", () => {
    const { pair } = established("allowed");
    const b = pair.devices.b;
    pair.absorb(
      "b",
      b.addPeer(pair.now, {
        publicKey: pair.devices.a.publicKey.map((x, i) => (i === 0 ? x ^ 1 : x)),
        allowedIps: ["10.9.0.77/32", "fd00::77/128"],
      }),
      0,
    );
    for (const source of [
      [10, 9, 0, 77],
      [10, 9, 0, 3],
    ]) {
      const spoofed = udpPacket("a", "spoof");
      spoofed.set(source, 12);
      pair.absorb("a", pair.devices.a.send(pair.now, spoofed), 0);
    }
    deliverAll(pair);
    expect(b.rejections.get("source-not-allowed")).toBe(2);
    expect(pair.delivered.b.map((d) => text(d.data))).toEqual(["hello"]);
    expect(TUNNEL.a).toBe("10.9.0.1");
    pair.send("a", "legit");
    deliverAll(pair);
    expect(pair.delivered.b.map((d) => text(d.data))).toEqual(["hello", "legit"]);
  });
});

describe("key erasure", () => {
  it("zeroes a keypair's keys when it is retired after two rekeys", () => {
    const { pair } = established("erase");
    const crypto = pair.options.crypto as ReturnType<typeof recordingCrypto>;
    pair.now = 1_000;
    pair.send("b", "reply");
    deliverAll(pair);
    const first = [...crypto.transportKeys];
    expect(first).toHaveLength(4); // each side's send and receive key
    for (const key of first) expect(key.some((b) => b !== 0)).toBe(true);
    for (const at of [10_000, 20_000]) {
      pair.now = at;
      pair.absorb("a", pair.devices.a.initiateHandshake(at, pair.keys.b), 0);
      deliverAll(pair);
      expect(pair.converged()).toBe(true);
    }
    // Rekey 1 moved the first keypair to `previous`; rekey 2 retired it.
    for (const key of first) expect(key.every((b) => b === 0)).toBe(true);
    pair.send("b", "after");
    deliverAll(pair);
    expect(pair.delivered.a.map((d) => text(d.data))).toEqual(["reply", "after"]);
    const live = [...crypto.transportKeys].filter((k) => !first.includes(k));
    expect(live.length).toBeGreaterThan(0);
    for (const key of live.slice(-2)) expect(key.some((b) => b !== 0)).toBe(true);
  });
});
