/**
 * The relay end to end, with our own engine as the client: a `Device` driven with real time whose
 * every datagram travels over a WebTransport session (HTTP/2, from Node) to a relay in this
 * process, which forwards it over UDP to wireguard-go in a namespace or to the embedded demo peer.
 * Also: a relay restart that the session survives without a new handshake, and the relay's own
 * capture decoded the same by tshark and by @wiregate/analysis.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toWiresharkFields, WireGuardDecoder } from "@wiregate/analysis";
import { readCapture } from "@wiregate/capture";
import { keyFromBase64 } from "@wiregate/core";
import { DEMO_SERVER_V4, DEMO_SERVER_V6, demoClientAddresses } from "@wiregate/packets";
import {
  DEFAULT_CONFIG,
  DemoPeer,
  mergeConfig,
  openCapture,
  type RelayAddress,
  type RelayConfig,
  silentLogger,
} from "@wiregate/relay";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startRelayWith } from "../apps/relay/test/helpers.js";
import { RelayClient } from "./helpers/relay-client.js";
import { tsharkFields } from "./helpers/tshark.js";
import { startWireGuardPeer, type WireGuardPeer } from "./helpers/wireguard-peer.js";

const TOKEN = "relay-e2e-token-0123456789abcdef";
const WG_V4 = "10.78.0.1";
const WG_V6 = "fd78::1";
const CLIENT_V4 = "10.78.0.2";
const CLIENT_V6 = "fd78::2";
let certDir: string;
let workDir: string;
let wg: WireGuardPeer | undefined;
let demo: DemoPeer | undefined;
let capturePath: string | undefined;
type TestRelay = Awaited<ReturnType<typeof startRelayWith>>["relay"];
const relays: TestRelay[] = [];
const clients: RelayClient[] = [];

function relayConfig(upstreams: RelayConfig["upstreams"], port = 0): RelayConfig {
  return mergeConfig(DEFAULT_CONFIG, {
    host: "127.0.0.1",
    port,
    opsPort: null,
    http3: false,
    demo: false,
    certDir,
    tokens: [TOKEN],
    upstreams,
  });
}

async function startRelay(
  config: RelayConfig,
  capture?: Awaited<ReturnType<typeof openCapture>>,
): Promise<{ relay: TestRelay; address: RelayAddress }> {
  const started = await startRelayWith(config, capture ? { capture } : {});
  relays.push(started.relay);
  return started;
}

function newClient(): RelayClient {
  const client = new RelayClient();
  clients.push(client);
  return client;
}

function wgUpstream(peer: WireGuardPeer): RelayConfig["upstreams"][number] {
  return {
    name: "wg",
    host: peer.underlayAddress,
    port: peer.listenPort,
    publicKey: peer.publicKey,
  };
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "wiregate-relay-e2e-"));
  certDir = join(workDir, "cert");
  wg = await startWireGuardPeer({ addresses: [`${WG_V4}/24`, `${WG_V6}/64`] });
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const relay of relays.splice(0)) await relay.stop(200);
});

afterAll(async () => {
  await wg?.stop();
  await demo?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("relay end to end, our core as the client", () => {
  it("core → relay → wireguard-go: IPv4 and IPv6 pings answered by the namespace's kernel", async () => {
    const peer = wg!;
    const client = newClient();
    await peer.setPeer({
      publicKey: client.device.publicKeyBase64,
      allowedIPs: [`${CLIENT_V4}/32`, `${CLIENT_V6}/128`],
    });
    client.addPeer(peer.publicKey, [`${WG_V4}/32`, `${WG_V6}/128`]);

    capturePath = join(workDir, "relay.pcapng");
    const capture = await openCapture(capturePath, 64 * 1024 * 1024, silentLogger);
    const { relay, address } = await startRelay(relayConfig([wgUpstream(peer)]), capture);
    try {
      const connection = await client.connect(address, "wg", TOKEN);
      expect(connection.welcome.type).toBe("welcome");

      for (let i = 0; i < 3; i++) await client.ping(CLIENT_V4, WG_V4);
      for (let i = 0; i < 3; i++) await client.ping(CLIENT_V6, WG_V6);

      expect(client.count("initiation-sent")).toBe(1);
      expect(client.count("response-consumed")).toBe(1);
      expect(client.device.currentKeypair(keyFromBase64(peer.publicKey))).toBeDefined();

      const dump = await peer.dump();
      const us = dump.peers.find((p) => p.publicKey === client.device.publicKeyBase64);
      expect(us?.latestHandshake).toBeGreaterThan(0);
      expect(us?.transferRx).toBeGreaterThan(0);
      expect(us?.transferTx).toBeGreaterThan(0);
      // wireguard-go learned its endpoint for us from the relay's UDP socket in the root namespace.
      expect(us?.endpoint?.startsWith(`${peer.hostAddress}:`)).toBe(true);

      const stats = await connection.stats();
      // Every message went through the relay, one datagram each, both ways.
      expect(stats.toUpstream.datagrams).toBe(client.sent);
      expect(stats.toClient.datagrams).toBe(client.received);
      expect(client.sent).toBeGreaterThanOrEqual(7);
      expect(client.received).toBeGreaterThanOrEqual(7);
    } finally {
      client.close();
      await relay.stop(200);
      await capture.close();
    }
  });

  it("core → relay → demo peer: 5 pings answered", async () => {
    demo = await DemoPeer.start();
    const { relay, address } = await startRelay(relayConfig([]));
    relay.upstreams.register(
      { name: "demo", host: demo.host, port: demo.port, publicKey: demo.publicKey },
      demo,
    );
    const client = newClient();
    client.addPeer(demo.publicKey, [`${DEMO_SERVER_V4}/32`, `${DEMO_SERVER_V6}/128`]);
    const { welcome } = await client.connect(address, "demo", TOKEN);
    // The addresses the demo peer gave this key, in the welcome: with no collision, the derived ones.
    const { v4, v6 } = demoClientAddresses(client.device.publicKey);
    expect(welcome.addresses).toEqual([`${v4}/32`, `${v6}/128`]);
    for (let i = 0; i < 5; i++) await client.ping(v4, DEMO_SERVER_V4);
    await client.ping(v6, DEMO_SERVER_V6);
    expect(client.count("initiation-sent")).toBe(1);
    expect(client.count("response-consumed")).toBe(1);
    expect(demo.clientCount).toBe(1);
  });

  it("a relay restart: the client reconnects and keeps its keypair with wireguard-go", async () => {
    const peer = wg!;
    const client = newClient();
    await peer.setPeer({
      publicKey: client.device.publicKeyBase64,
      allowedIPs: [`${CLIENT_V4}/32`, `${CLIENT_V6}/128`],
    });
    client.addPeer(peer.publicKey, [`${WG_V4}/32`, `${WG_V6}/128`]);
    const peerKey = keyFromBase64(peer.publicKey);

    const first = await startRelay(relayConfig([wgUpstream(peer)]));
    const config = relayConfig([wgUpstream(peer)], first.address.port);
    const before = await client.connect(first.address, "wg", TOKEN);
    await client.ping(CLIENT_V4, WG_V4);
    const keypair = client.device.currentKeypair(peerKey);
    expect(keypair).toBeDefined();
    expect(client.count("initiation-sent")).toBe(1);
    const endpointBefore = (await peer.dump()).peers.find(
      (p) => p.publicKey === client.device.publicKeyBase64,
    )?.endpoint;

    await first.relay.stop(200);
    // The session ends with the relay (its close frame or the transport going away).
    await before.closed;
    expect(client.connection).toBeUndefined();

    const second = await startRelay(config);
    expect(second.address.port).toBe(first.address.port);
    await client.connect(second.address, "wg", TOKEN);
    for (let i = 0; i < 3; i++) await client.ping(CLIENT_V4, WG_V4);
    await client.ping(CLIENT_V6, WG_V6);

    // The same session keys: no handshake after the restart.
    expect(client.count("initiation-sent")).toBe(1);
    expect(client.count("keypair-created")).toBe(1);
    expect(client.device.currentKeypair(peerKey)).toEqual(keypair);
    // wireguard-go roamed to the new relay session's UDP socket.
    const endpointAfter = (await peer.dump()).peers.find(
      (p) => p.publicKey === client.device.publicKeyBase64,
    )?.endpoint;
    expect(endpointBefore).toBeTruthy();
    expect(endpointAfter).toBeTruthy();
    expect(endpointAfter).not.toBe(endpointBefore);
  });

  it("the relay's capture decodes the same with tshark and @wiregate/analysis", async () => {
    expect(capturePath, "the wireguard-go test wrote the capture").toBeDefined();
    const file = capturePath!;
    const peer = wg!;
    const FIELDS = ["frame.number", "wg.type", "wg.sender", "wg.receiver", "wg.counter"] as const;
    const reference = await tsharkFields(file, [...FIELDS, "ip.src", "ip.dst"], {
      displayFilter: "wg",
    });

    const decoder = new WireGuardDecoder();
    const ours: Record<string, string>[] = [];
    for await (const record of readCapture(createReadStream(file))) {
      if (record.kind === "error") throw new Error(record.error.message);
      const message = decoder.record(record);
      if (!message) continue;
      const fields = toWiresharkFields(message);
      ours.push(
        Object.fromEntries(
          [...FIELDS, "ip.src", "ip.dst"].map((f) => [
            f,
            fields[f] === undefined ? "" : String(fields[f]),
          ]),
        ),
      );
    }

    expect(reference.length).toBeGreaterThanOrEqual(4);
    expect(ours).toEqual(reference);
    const types = reference.map((r) => r["wg.type"]);
    expect(types).toContain("1");
    expect(types).toContain("2");
    expect(types).toContain("4");
    // Both directions: toward wireguard-go and back from it.
    const toUpstream = reference.filter((r) => r["ip.dst"] === peer.underlayAddress);
    const fromUpstream = reference.filter((r) => r["ip.src"] === peer.underlayAddress);
    expect(toUpstream.length).toBeGreaterThan(0);
    expect(fromUpstream.length).toBeGreaterThan(0);
    expect(toUpstream.length + fromUpstream.length).toBe(reference.length);
    // 6 pings: at least 6 data messages each way, plus the handshake.
    expect(toUpstream.filter((r) => r["wg.type"] === "4").length).toBeGreaterThanOrEqual(6);
    expect(fromUpstream.filter((r) => r["wg.type"] === "4").length).toBeGreaterThanOrEqual(6);
  });
});
