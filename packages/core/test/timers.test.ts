/**
 * Every timer of the protocol, in virtual time: the tests only move `now`, call `tick` and read
 * the deadline each call returns (wireguard-go device/timers.go, send.go and receive.go are the
 * reference for when each timer is armed, cleared and what it does when it fires).
 */
import { describe, expect, it } from "vitest";
import {
  KEEPALIVE_TIMEOUT,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_TIME,
  REKEY_ON_RECEIVE_AGE,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
} from "../src/constants.js";
import { ENDPOINT } from "./sim.js";
import { Clocked, drive, recordingCrypto, sent } from "./virtual.js";

const INITIATION = 1;
const RESPONSE = 2;
const TRANSPORT = 4;

/** A pair whose handshake (started by A sending "hello" at t = 0) completed with no loss. */
function established(seed: string, persistentKeepaliveSeconds?: number): Clocked {
  const pair = new Clocked({ seed, persistentKeepaliveSeconds });
  pair.send("a", "hello");
  drive(pair, { until: 0 });
  expect(pair.delivered.b).toHaveLength(1);
  expect(pair.converged()).toBe(true);
  return pair;
}

const types = (out: { datagrams: readonly { data: Uint8Array }[] }) =>
  out.datagrams.map((d) => d.data[0]);

describe("passive keepalive", () => {
  it("answers received data with one 32-byte keepalive after KEEPALIVE_TIMEOUT of silence", () => {
    const pair = established("passive");
    // B received "hello" at t = 0 and has sent nothing authenticated since.
    expect(pair.deadlines.b).toBe(KEEPALIVE_TIMEOUT);
    pair.now = KEEPALIVE_TIMEOUT - 1;
    expect(pair.tickChecked("b").datagrams).toHaveLength(0);
    pair.now = KEEPALIVE_TIMEOUT;
    const out = pair.tickChecked("b");
    expect(out.datagrams.map((d) => d.data.length)).toEqual([32]);
    expect(out.datagrams[0]!.data[0]).toBe(TRANSPORT);
    drive(pair, { until: 60_000 });
    // Exactly one: a keepalive is not data, so it arms no further keepalive on A.
    expect(sent(pair, "b", TRANSPORT)).toHaveLength(1);
    expect(sent(pair, "a", TRANSPORT)).toHaveLength(1);
  });

  it("sends no keepalive when data went back in time", () => {
    const pair = established("passive-reply");
    drive(pair, { until: 60_000, sends: [{ at: 3_000, side: "b", text: "reply" }] });
    // B's reply cleared its keepalive; A received data at 3 s and keepalives at 13 s.
    expect(sent(pair, "b", TRANSPORT).map((d) => [d.time, d.length > 32])).toEqual([[3_000, true]]);
    expect(sent(pair, "a", TRANSPORT).map((d) => [d.time, d.length > 32])).toEqual([
      [0, true],
      [3_000 + KEEPALIVE_TIMEOUT, false],
    ]);
  });

  it("sends another keepalive when more data arrived while one was pending", () => {
    const pair = established("passive-again");
    drive(pair, { until: 60_000, sends: [{ at: 5_000, side: "a", text: "more" }] });
    // Data at 0 arms the keepalive for 10 s; data at 5 s asks for another 10 s after it fires.
    expect(sent(pair, "b", TRANSPORT).map((d) => d.time)).toEqual([
      KEEPALIVE_TIMEOUT,
      2 * KEEPALIVE_TIMEOUT,
    ]);
  });
});

describe("persistent keepalive", () => {
  it("keeps the path alive every interval while idle, and not without the option", () => {
    const pair = new Clocked({ seed: "persistent", persistentKeepaliveSeconds: 25 });
    drive(pair, { until: 55_000 });
    expect(pair.converged()).toBe(true);
    // A's timer fires first; each of its keepalives reaches B and resets B's own timer (any
    // authenticated packet received counts), so B never needs to send one.
    const keepalives = (side: "a" | "b") =>
      sent(pair, side, TRANSPORT)
        .filter((d) => d.length === 32 && d.time > 0)
        .map((d) => d.time);
    expect(keepalives("a")).toEqual([25_000, 50_000]);
    expect(keepalives("b")).toEqual([]);
    expect(pair.deadlines.b).toBe(75_000);
    // Traffic resets the interval: B's data at 60 s makes A send its passive keepalive at 70 s,
    // and the next persistent one 25 s after that.
    drive(pair, { until: 110_000, sends: [{ at: 60_000, side: "b", text: "data" }] });
    expect(keepalives("a")).toEqual([25_000, 50_000, 70_000, 95_000]);
    expect(keepalives("b")).toEqual([]);
    const plain = established("no-persistent");
    drive(plain, { until: 110_000 });
    expect(sent(plain, "a", TRANSPORT)).toHaveLength(1); // only "hello"
  });
});

describe("rekeying", () => {
  it("the initiator starts a new handshake when sending on a keypair older than REKEY_AFTER_TIME", () => {
    const pair = established("rekey-send");
    drive(pair, { until: REKEY_AFTER_TIME - 1 });
    pair.now = REKEY_AFTER_TIME;
    expect(types(pair.send("a", "at the limit"))).toEqual([TRANSPORT]);
    drive(pair, { until: REKEY_AFTER_TIME });
    pair.now = REKEY_AFTER_TIME + 1;
    // The responder never rekeys for age when sending.
    expect(types(pair.send("b", "responder"))).toEqual([TRANSPORT]);
    drive(pair, { until: REKEY_AFTER_TIME + 1 });
    pair.now = REKEY_AFTER_TIME + 2;
    expect(types(pair.send("a", "past the limit"))).toEqual([TRANSPORT, INITIATION]);
    const before = pair.devices.a.currentKeypair(pair.keys.b)!.localIndex;
    drive(pair, { until: REKEY_AFTER_TIME + 2 });
    expect(pair.converged()).toBe(true);
    expect(pair.devices.a.currentKeypair(pair.keys.b)!.localIndex).not.toBe(before);
  });

  it("the initiator rekeys on receive once its keypair is older than 165 s, and only once", () => {
    expect(REKEY_ON_RECEIVE_AGE).toBe(165_000);
    const pair = established("rekey-receive");
    drive(pair, { until: REKEY_ON_RECEIVE_AGE - 1 });
    pair.now = REKEY_ON_RECEIVE_AGE;
    pair.send("b", "at the limit");
    expect(types(pair.deliver(0))).toEqual([]);
    pair.now = REKEY_ON_RECEIVE_AGE + 1;
    pair.send("b", "past the limit");
    expect(types(pair.deliver(0))).toEqual([INITIATION]);
    // The initiation is lost; more data from B does not make A try again before its timer.
    pair.inFlight = [];
    pair.now = REKEY_ON_RECEIVE_AGE + 2;
    pair.send("b", "again");
    const again = pair.deliver(0);
    expect(types(again)).toEqual([]);
    expect(again.events.some((e) => e.kind === "initiation-suppressed")).toBe(false);
  });

  it("the responder does not rekey on receive", () => {
    const pair = established("rekey-receive-responder");
    pair.now = REKEY_ON_RECEIVE_AGE + 1_000;
    pair.send("a", "late");
    // A (initiator, keypair past REKEY_AFTER_TIME) sends data and an initiation; drop the latter.
    expect(pair.inFlight.map((m) => m.data[0])).toEqual([TRANSPORT, INITIATION]);
    pair.inFlight.pop();
    expect(types(pair.deliver(0))).toEqual([]);
  });

  it("starts a new handshake when sent data got no reply for KEEPALIVE + REKEY_TIMEOUT + jitter", () => {
    const pair = established("new-handshake");
    drive(pair, { until: 20_000 });
    pair.send("a", "anyone?");
    const lostAt = pair.now;
    const deadline = pair.deadlines.a!;
    expect(deadline - lostAt).toBeGreaterThanOrEqual(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
    expect(deadline - lostAt).toBeLessThanOrEqual(
      KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX,
    );
    // B's data, keepalives, everything from B is lost from here on.
    drive(pair, { until: deadline - 1, drop: (m) => m.from === "b" || m.id > 0 });
    expect(sent(pair, "a", INITIATION)).toHaveLength(1);
    pair.now = deadline;
    expect(types(pair.tickChecked("a"))).toEqual([INITIATION]);
  });

  it("does not start one when anything authenticated came back", () => {
    const pair = established("new-handshake-answered");
    drive(pair, { until: 60_000, sends: [{ at: 20_000, side: "a", text: "anyone?" }] });
    // B's passive keepalive at 30 s is the reply: no second initiation.
    expect(sent(pair, "a", INITIATION)).toHaveLength(1);
    expect(sent(pair, "b", TRANSPORT).map((d) => d.time)).toEqual([10_000, 30_000]);
  });
});

describe("handshake retransmission", () => {
  it("retransmits after REKEY_TIMEOUT plus a jitter in [0, 333] ms that varies", () => {
    const delays = new Set<number>();
    for (let seed = 0; seed < 12; seed++) {
      const pair = new Clocked({ seed: `jitter-${seed}` });
      pair.now = 1_000;
      pair.send("a", "x");
      pair.inFlight = [];
      const delay = pair.deadlines.a! - pair.now;
      expect(delay).toBeGreaterThanOrEqual(REKEY_TIMEOUT);
      expect(delay).toBeLessThanOrEqual(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
      delays.add(delay);
      pair.now = pair.deadlines.a! - 1;
      expect(pair.tickChecked("a").datagrams).toHaveLength(0);
      pair.now += 1;
      expect(types(pair.tickChecked("a"))).toEqual([INITIATION]);
    }
    expect(delays.size).toBeGreaterThan(3);
  });

  it("gives up like wireguard-go (1 + MaxTimerHandshakes + 1 initiations), flushing staged packets", () => {
    const pair = new Clocked({ seed: "give-up" });
    pair.send("a", "first");
    pair.send("a", "second");
    expect(pair.devices.a.peerStatus(pair.keys.b)!.stagedPackets).toBe(2);
    drive(pair, { until: 200_000, drop: () => true });
    const initiations = sent(pair, "a", INITIATION);
    // wireguard-go's expiredRetransmitHandshake retries while attempts <= MaxTimerHandshakes (18):
    // 19 retries after the first initiation, and gives up on the 20th expiry.
    expect(MAX_TIMER_HANDSHAKES).toBe(18);
    expect(initiations).toHaveLength(MAX_TIMER_HANDSHAKES + 2);
    for (let i = 1; i < initiations.length; i++) {
      const gap = initiations[i]!.time - initiations[i - 1]!.time;
      expect(gap).toBeGreaterThanOrEqual(REKEY_TIMEOUT);
      expect(gap).toBeLessThanOrEqual(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    }
    const gaveUp = pair.events.filter((e) => e.kind === "handshake-gave-up");
    expect(gaveUp).toHaveLength(1);
    const last = initiations.at(-1)!.time;
    expect(gaveUp[0]!.time - last).toBeGreaterThanOrEqual(REKEY_TIMEOUT);
    expect(gaveUp[0]!.time - last).toBeLessThanOrEqual(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    const status = pair.devices.a.peerStatus(pair.keys.b)!;
    expect(status.stagedPackets).toBe(0);
    expect(status.handshake).toBe("none");
    // Only the zero-key-material timer is left, 3 × REJECT_AFTER_TIME after giving up.
    expect(pair.deadlines.a).toBe(gaveUp[0]!.time + 3 * REJECT_AFTER_TIME);
    // New data starts a fresh attempt, which works once the network is back.
    drive(pair, { until: 300_000, sends: [{ at: 300_000, side: "a", text: "back" }] });
    expect(pair.delivered.b.map((d) => d.time)).toEqual([300_000]);
  });
});

describe("key lifetime", () => {
  it("a keypair cannot send or receive from REJECT_AFTER_TIME on", () => {
    const pair = established("reject-after");
    drive(pair, { until: REJECT_AFTER_TIME - 1 });
    pair.send("a", "last");
    // Sent on the old keypair (plus a rekey initiation, which is lost).
    expect(pair.inFlight.map((m) => m.data[0])).toEqual([TRANSPORT, INITIATION]);
    pair.inFlight.pop();
    pair.now = REJECT_AFTER_TIME;
    pair.deliver(0);
    expect(pair.devices.b.rejections.get("keypair-expired")).toBe(1);
    expect(pair.delivered.b).toHaveLength(1);
    // Sending now stages the packet: no transport message on the expired keypair.
    expect(types(pair.send("a", "too late"))).toEqual([]);
    expect(types(pair.send("b", "too late"))).not.toContain(TRANSPORT);
    expect(pair.devices.a.peerStatus(pair.keys.b)!.stagedPackets).toBe(1);
  });

  it("zeroes every key 3 × REJECT_AFTER_TIME after the last handshake", () => {
    const crypto = recordingCrypto();
    const pair = new Clocked({ seed: "zero", crypto });
    pair.send("a", "hello");
    drive(pair, { until: 0 });
    pair.send("a", "held 1");
    pair.send("a", "held 2");
    const held = pair.inFlight.splice(0).map((m) => m.data);
    expect(held).toHaveLength(2);
    for (const side of ["a", "b"] as const) {
      const other = side === "a" ? "b" : "a";
      expect(pair.devices[side].peerStatus(pair.keys[other])!.keypairs).toHaveLength(1);
    }
    drive(pair, { until: 3 * REJECT_AFTER_TIME - 1 });
    // Expired but not yet zeroed: the index is still known.
    pair.devices.b.receive(pair.now, held[0]!, ENDPOINT.a);
    expect(pair.devices.b.rejections.get("keypair-expired")).toBe(1);
    expect(pair.deadlines.a).toBe(3 * REJECT_AFTER_TIME);
    expect(pair.deadlines.b).toBe(3 * REJECT_AFTER_TIME);
    drive(pair, { until: 3 * REJECT_AFTER_TIME });
    for (const side of ["a", "b"] as const) {
      const other = side === "a" ? "b" : "a";
      expect(pair.devices[side].peerStatus(pair.keys[other])!.keypairs).toEqual([]);
      expect(pair.devices[side].currentKeypair(pair.keys[other])).toBeUndefined();
      expect(pair.events.some((e) => e.side === side && e.kind === "keys-zeroed")).toBe(true);
    }
    pair.devices.b.receive(pair.now, held[1]!, ENDPOINT.a);
    expect(pair.devices.b.rejections.get("unknown-index")).toBe(1);
    // The key bytes themselves are gone: every transport key used is now all zeros.
    expect(crypto.transportKeys.size).toBe(4);
    for (const key of crypto.transportKeys) expect(key.every((b) => b === 0)).toBe(true);
    expect(pair.deadlines.a).toBeUndefined();
  });
});

describe("deadlines", () => {
  // A busy scenario: traffic both ways, losses that force retransmissions, new handshakes, a
  // rekey and persistent keepalives.
  const scenario = (pair: Clocked, poll?: number) =>
    drive(pair, {
      until: 200_000,
      poll,
      sends: [
        { at: 0, side: "a", text: "1" },
        { at: 700, side: "b", text: "2" },
        { at: 12_345, side: "a", text: "3" },
        { at: 40_000, side: "b", text: "4" },
        { at: 41_000, side: "b", text: "5" },
        { at: 95_000, side: "a", text: "6" },
        { at: 121_000, side: "a", text: "7" },
        { at: 150_500, side: "b", text: "8" },
        { at: 170_000, side: "a", text: "9" },
      ],
      drop: (m) => m.id % 5 === 1 || (m.id > 20 && m.id < 26),
    });

  it("ticking only at the returned deadlines does exactly what polling every millisecond does", () => {
    const byDeadline = new Clocked({ seed: "deadlines", persistentKeepaliveSeconds: 30 });
    scenario(byDeadline);
    const byPolling = new Clocked({ seed: "deadlines", persistentKeepaliveSeconds: 30 });
    scenario(byPolling, 1);
    expect(byDeadline.log.length).toBeGreaterThan(30);
    expect(sent(byDeadline, "a", INITIATION).length).toBeGreaterThan(2);
    expect(sent(byDeadline, "b", RESPONSE).length).toBeGreaterThan(1);
    expect(byDeadline.log).toEqual(byPolling.log);
    expect(byDeadline.delivered.a.map((d) => d.time)).toEqual(
      byPolling.delivered.a.map((d) => d.time),
    );
  });

  it("is never in the past after a tick, and undefined when nothing is pending", () => {
    const pair = new Clocked({ seed: "idle" });
    expect(pair.deadlines.a).toBeUndefined();
    pair.now = 5;
    expect(pair.tickChecked("a").deadline).toBeUndefined();
    pair.send("a", "x");
    // A tick late by much more than one timer period still leaves the deadline in the future.
    pair.inFlight = [];
    pair.now = 60_000;
    const late = pair.tickChecked("a");
    expect(types(late)).toEqual([INITIATION]);
    expect(late.deadline).toBeGreaterThan(60_000);
  });
});
