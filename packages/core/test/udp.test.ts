import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { nodeCrypto } from "../src/crypto/node.js";
import { generatePrivateKey } from "../src/keys.js";
import { UdpDevice } from "../src/node/udp.js";
import { udpPacket } from "./sim.js";

const opened: UdpDevice[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

describe("UdpDevice (real UDP sockets on loopback)", () => {
  it("handshakes and carries packets both ways between two devices", async () => {
    const random = (n: number) => new Uint8Array(randomBytes(n));
    const privA = generatePrivateKey(random);
    const privB = generatePrivateKey(random);
    const got: { side: string; text: string }[] = [];
    const onPacket = (side: string) => (p: Uint8Array) =>
      got.push({ side, text: new TextDecoder().decode(p.subarray(28)) });
    const b = await UdpDevice.start({
      privateKey: privB,
      host: "127.0.0.1",
      onPacket: onPacket("b"),
    });
    opened.push(b);
    const a = await UdpDevice.start({
      privateKey: privA,
      host: "127.0.0.1",
      onPacket: onPacket("a"),
      peers: [
        {
          publicKey: nodeCrypto.x25519Public(privB),
          allowedIps: ["10.9.0.2/32"],
          endpoint: { address: "127.0.0.1", port: b.port },
        },
      ],
    });
    opened.push(a);
    b.addPeer({ publicKey: a.device.publicKey, allowedIps: ["10.9.0.1/32"] });
    a.send(udpPacket("a", "ping"));
    await expect.poll(() => got.find((g) => g.side === "b")?.text, { timeout: 5000 }).toBe("ping");
    // B learned A's endpoint from the authenticated handshake (roaming) and can answer.
    b.send(udpPacket("b", "pong"));
    await expect.poll(() => got.find((g) => g.side === "a")?.text, { timeout: 5000 }).toBe("pong");
  });
});
