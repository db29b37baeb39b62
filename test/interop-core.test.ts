/**
 * @wiregate/core against an unmodified wireguard-go over real UDP: our `UdpDevice` runs in the test
 * process, wireguard-go in a network namespace; ICMP echo crosses the tunnel in both directions and
 * is answered by the namespace's kernel on one side and by our echo responder on the other.
 */
import { keyFromBase64, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX } from "@wiregate/core";
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "./helpers/command.js";
import {
  type CorePeer,
  eventSummary,
  type StampedEvent,
  startCorePeer,
} from "./helpers/core-peer.js";
import {
  generateKeyPair,
  generatePresharedKey,
  startWireGuardPeer,
  type WireGuardPeer,
} from "./helpers/netns.js";

const THEM = { v4: "10.88.0.1", v6: "fd88::1" };
const US = { v4: "10.88.0.2", v6: "fd88::2" };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

interface Pair {
  wg: WireGuardPeer;
  ours: CorePeer;
  ourPublicKey: string;
}

/** wireguard-go in a namespace and our peer on the bridge, each with the other's endpoint. */
async function startPair(options: { psk?: boolean; mismatchedPsk?: boolean } = {}): Promise<Pair> {
  const ourKeys = await generateKeyPair();
  const psk = options.psk || options.mismatchedPsk ? await generatePresharedKey() : undefined;
  const wg = await startWireGuardPeer({
    addresses: [`${THEM.v4}/24`, `${THEM.v6}/64`],
  });
  cleanups.push(() => wg.stop());
  const ours = await startCorePeer({
    privateKey: ourKeys.privateKey,
    addresses: [US.v4, US.v6],
    host: wg.hostAddress,
    peers: [
      {
        publicKey: keyFromBase64(wg.publicKey),
        presharedKey: psk === undefined ? undefined : keyFromBase64(psk),
        allowedIps: [`${THEM.v4}/32`, `${THEM.v6}/128`],
        endpoint: { address: wg.underlayAddress, port: wg.listenPort },
      },
    ],
  });
  cleanups.push(() => ours.close());
  await wg.setPeer({
    publicKey: ourKeys.publicKey,
    presharedKey: options.mismatchedPsk ? await generatePresharedKey() : psk,
    allowedIPs: [`${US.v4}/32`, `${US.v6}/128`],
    endpoint: `${wg.hostAddress}:${ours.udp.port}`,
  });
  return { wg, ours, ourPublicKey: ourKeys.publicKey };
}

async function expectWgSawTraffic(pair: Pair): Promise<void> {
  const dump = await pair.wg.dump();
  const peer = dump.peers.find((p) => p.publicKey === pair.ourPublicKey);
  expect(peer, JSON.stringify(dump)).toBeDefined();
  expect(peer!.latestHandshake).toBeGreaterThan(0);
  expect(Math.abs(peer!.latestHandshake - Date.now() / 1000)).toBeLessThan(60);
  expect(peer!.transferRx).toBeGreaterThan(0);
  expect(peer!.transferTx).toBeGreaterThan(0);
  expect(peer!.endpoint).toBe(`${pair.wg.hostAddress}:${pair.ours.udp.port}`);
}

async function wgHandshakeOf(pair: Pair): Promise<number> {
  const peer = (await pair.wg.dump()).peers.find((p) => p.publicKey === pair.ourPublicKey);
  return peer?.latestHandshake ?? 0;
}

const kinds = (pair: Pair) => pair.ours.events.map((e) => e.kind);

describe.each([
  { name: "without a preshared key", psk: false },
  { name: "with a preshared key", psk: true },
])("core ⇄ wireguard-go over real UDP, $name", ({ psk }) => {
  it("our peer initiates: ICMP echo over IPv4 and IPv6 answered by the far kernel", async () => {
    const pair = await startPair({ psk });
    const rtt4 = await pair.ours.ping(US.v4, THEM.v4, 2 * REKEY_TIMEOUT);
    const rtt6 = await pair.ours.ping(US.v6, THEM.v6, 3_000);
    for (let i = 0; i < 5; i++) {
      await pair.ours.ping(US.v4, THEM.v4);
      await pair.ours.ping(US.v6, THEM.v6);
    }
    expect(rtt4).toBeGreaterThan(0);
    expect(rtt6).toBeLessThan(1_000);
    const summary = eventSummary(pair.ours.events);
    expect(kinds(pair), summary).toContain("initiation-sent");
    expect(kinds(pair), summary).toContain("response-consumed");
    expect(kinds(pair), summary).not.toContain("initiation-consumed");
    expect(kinds(pair), summary).not.toContain("rejected");
    const status = pair.ours.udp.device.peerStatus(keyFromBase64(pair.wg.publicKey))!;
    expect(status.handshake).toBe("established");
    expect(status.keypairs).toEqual([
      expect.objectContaining({ slot: "current", isInitiator: true }),
    ]);
    expect(status.rxBytes).toBeGreaterThan(0);
    await expectWgSawTraffic(pair);
  });

  it("wireguard-go initiates: its pings (IPv4 and IPv6) are answered by our echo responder", async () => {
    const pair = await startPair({ psk });
    const v4 = await pair.wg.ping(US.v4, { count: 3, waitSeconds: 2 });
    expect(v4.ok, `${v4.output}\n${pair.wg.log()}`).toBe(true);
    expect(v4.received).toBe(3);
    const v6 = await pair.wg.ping(US.v6, { count: 3, waitSeconds: 2 });
    expect(v6.ok, v6.output).toBe(true);
    expect(v6.received).toBe(3);
    expect(pair.ours.echoesAnswered).toBe(6);
    const summary = eventSummary(pair.ours.events);
    expect(kinds(pair), summary).toContain("initiation-consumed");
    expect(kinds(pair), summary).toContain("keypair-confirmed");
    expect(kinds(pair), summary).not.toContain("initiation-sent");
    const status = pair.ours.udp.device.peerStatus(keyFromBase64(pair.wg.publicKey))!;
    expect(status.keypairs).toEqual([
      expect.objectContaining({ slot: "current", isInitiator: false }),
    ]);
    await expectWgSawTraffic(pair);
  });
});

describe("core ⇄ wireguard-go: preshared key mismatch", () => {
  it("no handshake completes and nothing is delivered in either direction", async () => {
    const pair = await startPair({ mismatchedPsk: true });
    await expect(pair.ours.ping(US.v4, THEM.v4, 1_500)).rejects.toThrow(/no echo reply/);
    // Wait for the rejection itself rather than a fixed time: on a busy machine the first
    // initiation can be lost and retried after REKEY_TIMEOUT.
    const decryptRejections = () => pair.ours.udp.device.rejections.get("decrypt") ?? 0;
    for (let waited = 0; decryptRejections() === 0 && waited < 3 * REKEY_TIMEOUT; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const fromThem = await pair.wg.ping(US.v4, { count: 2, waitSeconds: 1 });
    expect(fromThem.received).toBe(0);
    expect(pair.ours.echoesAnswered).toBe(0);
    expect(kinds(pair)).not.toContain("response-consumed");
    expect(kinds(pair)).not.toContain("keypair-confirmed");
    // wireguard-go's response does not authenticate with our PSK: rejected, not silently lost.
    expect(decryptRejections()).toBeGreaterThan(0);
    const peer = (await pair.wg.dump()).peers.find((p) => p.publicKey === pair.ourPublicKey);
    expect(peer?.latestHandshake).toBe(0);
  });
});

describe("core ⇄ wireguard-go: rekey while traffic flows", () => {
  const PING_INTERVAL_MS = 25;
  /**
   * How long our peer must have sent no handshake message before we force the rekey. Our Device
   * refuses to initiate within REKEY_TIMEOUT of its last one. And wireguard-go can initiate once
   * more by itself, REKEY_TIMEOUT plus up to REKEY_TIMEOUT_JITTER_MAX after its initiation, although
   * that handshake completed: it arms its retransmit timer only after sending the initiation
   * (device/send.go: SendBuffer, then timersHandshakeInitiated). On a busy machine our response can
   * be processed, disarming the timer, before the sending thread gets to arm it; the timer then
   * survives and fires. We answer that initiation, so our forced one would be refused and the only
   * new keypair a responder one. Waiting past the timer's latest expiry (with a generous second for
   * a late timer) lets it fire first; its answer is a handshake message of ours and restarts the wait.
   */
  const QUIET_MS = REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX + 1_000;

  /** Resolves once our peer has sent no handshake message for QUIET_MS. */
  async function quietHandshakes(ours: CorePeer): Promise<void> {
    const isHandshake = (e: StampedEvent) =>
      e.kind === "initiation-sent" || e.kind === "response-sent";
    for (;;) {
      const last = ours.events.filter(isHandshake).at(-1)?.hrtime ?? 0n;
      const remaining = QUIET_MS - Number(process.hrtime.bigint() - last) / 1e6;
      if (remaining <= 0) return;
      await sleep(remaining);
    }
  }

  /**
   * Pings continuously (alternating IPv4/IPv6, one every PING_INTERVAL_MS) while `during` runs,
   * then waits for every reply. Resolves with how many were sent and the failures.
   */
  async function pingThroughout(ours: CorePeer, during: () => Promise<void>) {
    const pending: Promise<number>[] = [];
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const ping =
          i % 2 === 0 ? ours.ping(US.v4, THEM.v4, 2_000) : ours.ping(US.v6, THEM.v6, 2_000);
        // Counted below; without a handler now, a lost ping is also reported as unhandled.
        ping.catch(() => {});
        pending.push(ping);
        await new Promise((resolve) => setTimeout(resolve, PING_INTERVAL_MS));
      }
    })();
    try {
      await during();
    } finally {
      stop = true;
      await loop;
    }
    const results = await Promise.allSettled(pending);
    return {
      sent: results.length,
      failures: results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : [])),
    };
  }

  it.each([
    { first: "our peer", psk: false },
    { first: "wireguard-go", psk: true },
  ])(
    "session started by $first (psk: $psk): our forced rekey loses no ping",
    async ({ first, psk }) => {
      const pair = await startPair({ psk });
      const theirKey = keyFromBase64(pair.wg.publicKey);
      // Long enough for one retried initiation (REKEY_TIMEOUT) if the first is lost on a busy machine.
      if (first === "our peer") await pair.ours.ping(US.v4, THEM.v4, 2 * REKEY_TIMEOUT);
      else expect((await pair.wg.ping(US.v4, { count: 1, waitSeconds: 2 })).ok).toBe(true);
      expect(pair.ours.udp.device.currentKeypair(theirKey)).toBeDefined();
      // Taken just before the forced rekey, once no other handshake can come first.
      let before: ReturnType<typeof pair.ours.udp.device.currentKeypair>;
      let createdBefore = 0;
      let wgBefore = 0;

      const { sent, failures } = await pingThroughout(pair.ours, async () => {
        await quietHandshakes(pair.ours);
        before = pair.ours.udp.device.currentKeypair(theirKey);
        createdBefore = pair.ours.events.filter((e) => e.kind === "keypair-created").length;
        wgBefore = await wgHandshakeOf(pair);
        const from = pair.ours.events.length;
        pair.ours.udp.initiateHandshake(theirKey);
        const forced = pair.ours.events.slice(from);
        expect(
          forced.map((e) => e.kind),
          eventSummary(forced),
        ).toContain("initiation-sent");
        // Keep pinging well past the switch to the new keypair on both sides.
        await sleep(1_500);
      });

      const summary = `${eventSummary(pair.ours.events)}\nwireguard-go:\n${pair.wg.log()}`;
      expect(failures, summary).toEqual([]);
      expect(sent).toBeGreaterThan(100);
      const created = pair.ours.events.filter((e) => e.kind === "keypair-created");
      expect(created.length, summary).toBe(createdBefore + 1);
      const rekeyed = created.at(-1)!;
      expect(rekeyed.role, summary).toBe("initiator");
      expect(rekeyed.to).toBe("current");
      const after = pair.ours.udp.device.currentKeypair(theirKey);
      expect(after?.localIndex).toBe(rekeyed.localIndex);
      expect(after?.localIndex).not.toBe(before?.localIndex);
      expect(after?.remoteIndex).not.toBe(before?.remoteIndex);
      const status = pair.ours.udp.device.peerStatus(theirKey)!;
      expect(status.keypairs.map((k) => k.slot)).toEqual(["previous", "current"]);
      // wireguard-go completed the new handshake too (its clock: whole seconds).
      expect(await wgHandshakeOf(pair)).toBeGreaterThanOrEqual(wgBefore + 5);
      const collisions = pair.ours.events.filter((e) => e.kind === "collision");
      expect(collisions, summary).toEqual([]);
      await expectWgSawTraffic(pair);
    },
    45_000,
  );
});
