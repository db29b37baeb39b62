import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { generateKeyPair, startWireGuardPeer, type WireGuardPeer } from "./helpers/netns.js";

const TUNNEL_A = { v4: "10.77.0.1", v6: "fd77::1" };
const TUNNEL_B = { v4: "10.77.0.2", v6: "fd77::2" };

const started: WireGuardPeer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((peer) => peer.stop()));
});

/** Two peers: A listens, B knows A's endpoint (A learns B's from the handshake). */
async function startPair(options: { wrongKeyForA?: boolean } = {}) {
  const keysA = await generateKeyPair();
  const keysB = await generateKeyPair();
  const a = await startWireGuardPeer({
    privateKey: keysA.privateKey,
    listenPort: 51820,
    addresses: [`${TUNNEL_A.v4}/24`, `${TUNNEL_A.v6}/64`],
    peers: [
      { publicKey: keysB.publicKey, allowedIPs: [`${TUNNEL_B.v4}/32`, `${TUNNEL_B.v6}/128`] },
    ],
  });
  started.push(a);
  const keyBUsesForA = options.wrongKeyForA ? (await generateKeyPair()).publicKey : keysA.publicKey;
  const b = await startWireGuardPeer({
    privateKey: keysB.privateKey,
    listenPort: 51821,
    addresses: [`${TUNNEL_B.v4}/24`, `${TUNNEL_B.v6}/64`],
    peers: [
      {
        publicKey: keyBUsesForA,
        endpoint: a.endpoint,
        allowedIPs: [`${TUNNEL_A.v4}/32`, `${TUNNEL_A.v6}/128`],
      },
    ],
  });
  started.push(b);
  return { a, b, keysA, keysB };
}

describe("wireguard-go peers in network namespaces", () => {
  it("ping each other through the tunnel over IPv4 and IPv6", async () => {
    const { a, b, keysA, keysB } = await startPair();
    expect(a.publicKey).toBe(keysA.publicKey);
    expect(a.underlayAddress).not.toBe(b.underlayAddress);

    const fromB4 = await b.ping(TUNNEL_A.v4);
    expect(fromB4.ok, fromB4.output).toBe(true);
    const fromA6 = await a.ping(TUNNEL_B.v6);
    expect(fromA6.ok, fromA6.output).toBe(true);
    const fromB6 = await b.ping(TUNNEL_A.v6);
    expect(fromB6.received).toBeGreaterThan(0);

    const dumpA = await a.dump();
    expect(dumpA.publicKey).toBe(keysA.publicKey);
    expect(dumpA.listenPort).toBe(51820);
    const peerB = dumpA.peers.find((peer) => peer.publicKey === keysB.publicKey);
    expect(peerB?.latestHandshake).toBeGreaterThan(0);
    expect(peerB?.transferRx).toBeGreaterThan(0);
    // A learned B's endpoint from the handshake: B's underlay address and port.
    expect(peerB?.endpoint).toBe(b.endpoint);
  });

  it("cannot ping when B has the wrong public key for A", async () => {
    const { a, b, keysB } = await startPair({ wrongKeyForA: true });
    const result = await b.ping(TUNNEL_A.v4, { count: 2, waitSeconds: 1 });
    expect(result.ok).toBe(false);
    expect(result.received).toBe(0);
    const peerB = (await a.dump()).peers.find((peer) => peer.publicKey === keysB.publicKey);
    expect(peerB?.latestHandshake).toBe(0);
  });

  it("the underlay reaches the test process's namespace", async () => {
    const keys = await generateKeyPair();
    const a = await startWireGuardPeer({
      privateKey: keys.privateKey,
      addresses: ["10.78.0.1/24"],
    });
    started.push(a);
    const result = await a.ping(a.hostAddress, { count: 1 });
    expect(result.ok, result.output).toBe(true);
    const result6 = await a.ping(a.hostAddressV6, { count: 1 });
    expect(result6.ok, result6.output).toBe(true);
    expect(existsSync(`/var/run/wireguard/${a.ifname}.sock`)).toBe(true);
  });
});
