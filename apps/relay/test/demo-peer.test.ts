import { randomBytes } from "node:crypto";
import { generatePrivateKey } from "@wiregate/core";
import { nodeCrypto, UdpDevice } from "@wiregate/core/node";
import {
  buildEcho,
  buildUdp,
  DEMO_ECHO_PORT,
  DEMO_SERVER_V4,
  DEMO_SERVER_V6,
  demoClientAddresses,
  parsePacket,
} from "@wiregate/packets";
import { afterAll, describe, expect, it } from "vitest";
import { DemoPeer } from "../src/demo-peer.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

describe("embedded demo peer (real UDP on loopback)", () => {
  it("admits a new client key and answers ICMP, ICMPv6 and UDP echo in the tunnel", async () => {
    const demo = await DemoPeer.start();
    closers.push(() => demo.close());
    const privateKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
    const publicKey = nodeCrypto.x25519Public(privateKey);
    const mine = demoClientAddresses(publicKey);
    const replies: ReturnType<typeof parsePacket>[] = [];
    const client = await UdpDevice.start({
      privateKey,
      host: "127.0.0.1",
      onPacket: (p) => replies.push(parsePacket(p)),
      peers: [
        {
          publicKey: Buffer.from(demo.publicKey, "base64"),
          allowedIps: [`${DEMO_SERVER_V4}/32`, `${DEMO_SERVER_V6}/128`],
          endpoint: { address: demo.host, port: demo.port },
        },
      ],
    });
    closers.push(() => client.close());
    client.send(buildEcho({ source: mine.v4, destination: DEMO_SERVER_V4, id: 1, sequence: 1 }));
    client.send(buildEcho({ source: mine.v6, destination: DEMO_SERVER_V6, id: 1, sequence: 2 }));
    client.send(
      buildUdp({
        source: mine.v4,
        destination: DEMO_SERVER_V4,
        sourcePort: 40000,
        destinationPort: DEMO_ECHO_PORT,
        data: new TextEncoder().encode("echo me"),
      }),
    );
    await expect.poll(() => replies.length, { timeout: 5000 }).toBe(3);
    expect(replies.map((r) => r?.echo?.sequence ?? new TextDecoder().decode(r?.udp?.data))).toEqual(
      expect.arrayContaining([1, 2, "echo me"]),
    );
    expect(replies.every((r) => r?.destination === mine.v4 || r?.destination === mine.v6)).toBe(
      true,
    );
    expect(demo.clientCount).toBe(1);
  });

  it("keeps at most maxClients admitted keys", async () => {
    const demo = await DemoPeer.start({ maxClients: 2 });
    closers.push(() => demo.close());
    for (let i = 0; i < 4; i++) {
      const privateKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
      const mine = demoClientAddresses(nodeCrypto.x25519Public(privateKey));
      let answered = false;
      const client = await UdpDevice.start({
        privateKey,
        host: "127.0.0.1",
        onPacket: () => {
          answered = true;
        },
        peers: [
          {
            publicKey: Buffer.from(demo.publicKey, "base64"),
            allowedIps: [`${DEMO_SERVER_V4}/32`],
            endpoint: { address: demo.host, port: demo.port },
          },
        ],
      });
      closers.push(() => client.close());
      client.send(buildEcho({ source: mine.v4, destination: DEMO_SERVER_V4, id: 2, sequence: i }));
      await expect.poll(() => answered, { timeout: 5000 }).toBe(true);
    }
    expect(demo.clientCount).toBe(2);
  });
});
