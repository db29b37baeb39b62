// A name looked up right after connect, on virtual time: the tunnel worker's device and resolver
// (TunnelEngine, TunnelTcp) against a peer of our own core whose netstack answers DNS as the demo
// peer does (demo-dns.ts), over a link that drops handshake initiations on purpose. WireGuard sends
// the next initiation only after REKEY_TIMEOUT (5 s), later than the resolver's 2 × 2 s of tries:
// the lookup must still get its answer, and say that the tunnel has no session when none comes.
import { deterministicRandom, nobleCrypto, publicKey } from "@wiregate/core";
import { Netstack } from "@wiregate/netstack";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { answerDns } from "../../relay/src/demo-dns.js";
import { DnsError, type Resolution } from "../src/dns/resolver.js";
import { TunnelEngine } from "../src/tunnel-engine.js";
import { TunnelTcp } from "../src/tunnel-tcp.js";

beforeEach(() => {
  // Timers and clocks are virtual; setImmediate stays real (netstack hands input over with it).
  vi.useFakeTimers({
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance", "Date"],
  });
});
afterEach(() => vi.useRealTimers());

const HANDSHAKE_INITIATION = 1;

/**
 * The page's device and resolver, and a peer at 10.99.0.1 answering DNS, joined by a link with
 * 1 ms of virtual latency that drops the first `dropInitiations` initiations of the page.
 */
function tunnel(dropInitiations: number) {
  const random = deterministicRandom("dns-after-connect");
  const pageKey = random(32).slice();
  const peerKey = random(32).slice();
  const initiations = { sent: 0, dropped: 0 };
  const wallClock = () => BigInt(Date.now()) * 1_000_000n;
  let tcp: TunnelTcp | undefined;
  let peerNet: Netstack | undefined;
  const later = (fn: () => void) => setTimeout(fn, 1);
  const page: TunnelEngine = new TunnelEngine({
    privateKey: pageKey,
    mtu: 1420,
    crypto: nobleCrypto,
    random,
    wallClock,
    output: (out) => {
      for (const { data } of out.datagrams) {
        if (data[0] === HANDSHAKE_INITIATION && initiations.sent++ < dropInitiations) {
          initiations.dropped++;
          continue;
        }
        later(() => peer.receive(data));
      }
      for (const { data } of out.packets) tcp?.receive(data);
    },
  });
  const peer: TunnelEngine = new TunnelEngine({
    privateKey: peerKey,
    mtu: 1420,
    crypto: nobleCrypto,
    random,
    wallClock,
    output: (out) => {
      for (const { data } of out.datagrams) later(() => page.receive(data));
      for (const { data } of out.packets) peerNet?.receive(data);
    },
  });
  peer.addPeer({ publicKey: publicKey(nobleCrypto, pageKey), allowedIps: ["10.99.0.2/32"] });
  page.addPeer({ publicKey: publicKey(nobleCrypto, peerKey), allowedIps: ["10.99.0.0/24"] });
  peerNet = new Netstack({ addresses: ["10.99.0.1"], mtu: 1420, send: (p) => peer.send(p) });
  const dns = peerNet.udp.bind(53);
  void (async () => {
    const reader = dns.readable.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      const answer = answerDns(read.value.data);
      if (answer) dns.send(read.value.from, read.value.fromPort, answer);
    }
  })();
  tcp = new TunnelTcp(
    ["10.99.0.2"],
    1420,
    (p) => page.send(p),
    { servers: ["10.99.0.1"], search: [] },
    random,
    () => page.peerStatus(publicKey(nobleCrypto, peerKey))?.handshake === "established",
  );
  return {
    initiations,
    resolver: tcp.resolver,
    connect: () => page.initiateHandshake(publicKey(nobleCrypto, peerKey)),
    stop: () => {
      page.stop();
      peer.stop();
    },
  };
}

/** Moves virtual time on in 50 ms steps until `promise` settles (at most `limitMs`). */
async function settle<T>(promise: Promise<T>, limitMs: number): Promise<PromiseSettledResult<T>> {
  let result: PromiseSettledResult<T> | undefined;
  void promise.then(
    (value) => (result = { status: "fulfilled", value }),
    (reason: unknown) => (result = { status: "rejected", reason }),
  );
  for (let t = 0; t <= limitMs && !result; t += 50) {
    await vi.advanceTimersByTimeAsync(50);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (!result) throw new Error(`still pending after ${limitMs} ms of virtual time`);
  return result;
}

describe("a lookup right after connect", () => {
  it("gets its answer when the first handshake initiation is lost", async () => {
    const t = tunnel(1);
    try {
      t.connect();
      const started = Date.now();
      const result = await settle(t.resolver.resolve("demo.wiregate"), 60_000);
      expect(result.status).toBe("fulfilled");
      const resolution = (result as PromiseFulfilledResult<Resolution>).value;
      expect(resolution.addresses.map((a) => a.address)).toEqual(["10.99.0.1", "fd99::1"]);
      // The answer came with the handshake's retry, later than the tries alone would have waited.
      expect(t.initiations).toEqual({ sent: 2, dropped: 1 });
      expect(Date.now() - started).toBeGreaterThan(2 * 2000);
    } finally {
      t.stop();
    }
  });

  it("says the tunnel has no session when no handshake completes", async () => {
    const t = tunnel(Number.POSITIVE_INFINITY);
    try {
      t.connect();
      const result = await settle(t.resolver.resolve("demo.wiregate"), 60_000);
      expect(result.status).toBe("rejected");
      const error = (result as PromiseRejectedResult).reason as DnsError;
      expect(error).toBeInstanceOf(DnsError);
      expect(error.kind).toBe("timeout");
      expect(error.message).toMatch(
        /^no answer for demo\.wiregate \((A|AAAA)\): the tunnel has no WireGuard session \(no handshake with the peer in 16 s\)/,
      );
      expect(t.initiations.dropped).toBeGreaterThanOrEqual(3);
    } finally {
      t.stop();
    }
  });
});
