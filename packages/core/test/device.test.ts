import { describe, expect, it } from "vitest";
import { REJECT_AFTER_TIME, REKEY_TIMEOUT } from "../src/constants.js";
import { Pair, udpPacket } from "./sim.js";

function deliverAll(pair: Pair, limit = 100): void {
  for (let i = 0; i < limit && pair.inFlight.length > 0; i++) pair.deliver(0);
  expect(pair.inFlight).toHaveLength(0);
}

const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(28));

describe("Device", () => {
  it("handshakes on the first packet and delivers data both ways", () => {
    const pair = new Pair({ seed: "basic" });
    pair.send("a", "hello");
    expect(pair.inFlight).toHaveLength(1);
    expect(pair.inFlight[0]!.data.length).toBe(148);
    deliverAll(pair);
    expect(pair.delivered.b.map((d) => text(d.data))).toEqual(["hello"]);
    pair.send("b", "world");
    deliverAll(pair);
    expect(pair.delivered.a.map((d) => text(d.data))).toEqual(["world"]);
    expect(pair.converged()).toBe(true);
    expect(pair.errors()).toEqual([]);
  });

  it("works with a preshared key, and fails to handshake when the keys differ", () => {
    const pair = new Pair({ seed: "psk", psk: true });
    pair.send("a", "secret");
    deliverAll(pair);
    expect(pair.delivered.b).toHaveLength(1);

    // The initiation does not use the preshared key, so B answers it; A cannot open that answer.
    const mismatched = new Pair({ seed: "psk", psk: "mismatched" });
    mismatched.send("a", "secret");
    deliverAll(mismatched);
    expect(mismatched.events.filter((e) => e.kind === "response-sent")).toHaveLength(1);
    expect(mismatched.devices.a.rejections.get("decrypt")).toBe(1);
    expect(mismatched.delivered.b).toHaveLength(0);
    expect(mismatched.converged()).toBe(false);
  });

  it("is deterministic: the same seed gives the same bytes", () => {
    const run = () => {
      const pair = new Pair({ seed: "det" });
      pair.send("a", "x");
      const bytes: string[] = [];
      while (pair.inFlight.length) {
        bytes.push(Buffer.from(pair.inFlight[0]!.data).toString("hex"));
        pair.deliver(0);
      }
      return bytes.join();
    };
    expect(run()).toBe(run());
  });

  it("rejects a replayed initiation and replayed transport data", () => {
    const pair = new Pair({ seed: "replay" });
    pair.send("a", "one");
    const initiation = pair.inFlight[0]!.data.slice();
    deliverAll(pair);
    const transport = pair.nonces.a.size;
    expect(transport).toBeGreaterThan(0);
    pair.now += 1000;
    const out = pair.devices.b.receive(pair.now, initiation, { address: "192.0.2.1", port: 51820 });
    expect(out.datagrams).toHaveLength(0);
    expect(pair.devices.b.rejections.get("replayed-timestamp")).toBe(1);
    pair.send("a", "two");
    const data = pair.inFlight[0]!.data.slice();
    pair.deliver(0);
    pair.devices.b.receive(pair.now, data, { address: "192.0.2.1", port: 51820 });
    expect(pair.devices.b.rejections.get("replayed-counter")).toBe(1);
    expect(pair.delivered.b).toHaveLength(2);
  });

  it("counts the transport messages that never arrived from the gaps in their counters", () => {
    const pair = new Pair({ seed: "missing" });
    const missing = () => pair.devices.b.peerStatus(pair.keys.a)!.rxMissing;
    pair.send("a", "first");
    deliverAll(pair);
    expect(missing()).toBe(0);
    for (let i = 0; i < 6; i++) pair.send("a", `burst ${i}`);
    const [b0, b1, b2, b3, b4, b5] = pair.inFlight.splice(0);
    const arrive = (m: typeof b0) => {
      pair.inFlight.push(m!);
      pair.deliver(pair.inFlight.length - 1);
    };
    // The network loses 1 and 2, and holds 3 back until after 4.
    void [b1, b2];
    arrive(b0);
    expect(missing()).toBe(0);
    arrive(b4);
    expect(missing()).toBe(3);
    arrive(b3);
    expect(missing()).toBe(2);
    arrive(b5);
    expect(missing()).toBe(2);
    // A replay is refused before it is counted: it fills no gap.
    pair.devices.b.receive(pair.now, b3!.data, { address: "192.0.2.1", port: 51820 });
    expect(missing()).toBe(2);
    expect(pair.delivered.b.map((d) => text(d.data))).toEqual([
      "first",
      "burst 0",
      "burst 4",
      "burst 3",
      "burst 5",
    ]);
    expect(pair.devices.a.peerStatus(pair.keys.b)!.rxMissing).toBe(0);
  });

  it("drops a handshake message with a bad mac1 silently", () => {
    const pair = new Pair({ seed: "mac1" });
    pair.send("a", "x");
    const m = pair.inFlight[0]!;
    m.data[120]! ^= 1;
    const out = pair.deliver(0);
    expect(out.datagrams).toHaveLength(0);
    expect(pair.devices.b.rejections.get("mac1")).toBe(1);
  });

  it("drops packets whose inner source is outside the peer's allowed IPs", () => {
    const pair = new Pair({ seed: "allowed" });
    pair.send("a", "x");
    deliverAll(pair);
    // A's packet claiming to come from an address B did not allow for A.
    const spoofed = udpPacket("a", "spoof");
    spoofed.set([10, 9, 0, 77], 12);
    pair.absorb("a", pair.devices.a.send(pair.now, spoofed), 0);
    deliverAll(pair);
    expect(pair.delivered.b).toHaveLength(1);
    expect(pair.devices.b.rejections.get("source-not-allowed")).toBe(1);
  });

  it("retransmits the initiation after REKEY_TIMEOUT plus jitter when it is lost", () => {
    const pair = new Pair({ seed: "retransmit" });
    const first = pair.send("a", "x");
    pair.inFlight = [];
    expect(first.deadline).toBeGreaterThanOrEqual(REKEY_TIMEOUT);
    expect(first.deadline).toBeLessThanOrEqual(REKEY_TIMEOUT + 333);
    pair.now = first.deadline! - 1;
    expect(pair.tick("a").datagrams).toHaveLength(0);
    pair.now = first.deadline!;
    const retry = pair.tick("a");
    expect(retry.datagrams).toHaveLength(1);
    expect(retry.datagrams[0]!.data.length).toBe(148);
    deliverAll(pair);
    expect(pair.delivered.b.map((d) => text(d.data))).toEqual(["x"]);
  });

  it("refuses to send on a keypair older than REJECT_AFTER_TIME", () => {
    const pair = new Pair({ seed: "reject" });
    pair.send("a", "x");
    deliverAll(pair);
    pair.now = REJECT_AFTER_TIME + 1;
    const out = pair.send("a", "late");
    // No transport message: the data is staged and a new handshake starts instead.
    expect(out.datagrams.map((d) => d.data.length)).toEqual([148]);
  });
});

describe("Device admission hook", () => {
  it("admits an unknown key only after its initiation authenticated, and answers it directly", async () => {
    const { Device } = await import("../src/device.js");
    const { deterministicRandom } = await import("../src/deterministic.js");
    const { generatePrivateKey } = await import("../src/keys.js");
    const { nodeCrypto } = await import("../src/crypto/node.js");
    const { CookieJar } = await import("../src/cookie.js");
    const random = deterministicRandom("admit");
    const wallClock = () => 1_700_000_000_000_000_000n;
    const admitted: string[] = [];
    const server = new Device({
      privateKey: generatePrivateKey(random),
      random,
      wallClock,
      crypto: nodeCrypto,
      admitPeer: (key) => {
        admitted.push(Buffer.from(key).toString("base64"));
        return { allowedIps: ["10.9.0.1/32"] };
      },
    });
    const client = new Device({
      privateKey: generatePrivateKey(random),
      random,
      wallClock,
      crypto: nodeCrypto,
    });
    client.addPeer(0, {
      publicKey: server.publicKey,
      allowedIps: ["10.9.0.2/32"],
      endpoint: { address: "server", port: 1 },
    });
    const init = client.send(0, udpPacket("a", "hi")).datagrams[0]!.data;
    // An initiation whose timestamp was tampered with, but with a valid mac1 (recomputed, as
    // anyone who knows the server's public key can): it passes the gate and its static key
    // decrypts, yet it does not authenticate as a whole, so the hook is never asked.
    const bad = init.slice();
    bad[100]! ^= 1;
    new CookieJar(nodeCrypto, server.publicKey).addMacs(1, bad);
    server.receive(1, bad, { address: "client", port: 2 });
    expect(server.rejections.get("mac1")).toBeUndefined();
    expect(server.rejections.get("unknown-peer")).toBe(1);
    expect(admitted).toEqual([]);
    expect(server.peerCount).toBe(0);
    const response = server.receive(2, init, { address: "client", port: 2 });
    expect(admitted).toEqual([client.publicKeyBase64]);
    expect(server.peerCount).toBe(1);
    const data = client.receive(3, response.datagrams[0]!.data, { address: "server", port: 1 });
    const delivered = server.receive(4, data.datagrams[0]!.data, { address: "client", port: 2 });
    expect(delivered.packets).toHaveLength(1);
    const reply = server.sendToPeer(5, client.publicKey, udpPacket("b", "back"));
    const got = client.receive(6, reply.datagrams[0]!.data, { address: "server", port: 1 });
    expect(text(got.packets[0]!.data)).toBe("back");
  });
});
