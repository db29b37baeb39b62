import { randomBytes } from "node:crypto";
import { generatePrivateKey, type TraceEvent } from "@wiregate/core";
import { nodeCrypto, UdpDevice } from "@wiregate/core/node";
import { type HttpResponse, httpRequest, Netstack } from "@wiregate/netstack";
import {
  buildEcho,
  buildUdp,
  DEMO_ECHO_PORT,
  DEMO_SERVER_V4,
  DEMO_SERVER_V6,
  demoClientAddresses,
  parsePacket,
} from "@wiregate/packets";
import dnsPacket from "dns-packet";
import { afterAll, describe, expect, it } from "vitest";
import {
  DEMO_BUFFER,
  DEMO_BUFFER_BUDGET,
  DEMO_MAX_CONNECTIONS,
  DemoPeer,
} from "../src/demo-peer.js";

const closers: (() => Promise<void>)[] = [];

/** A WireGuard client (core's UdpDevice on loopback) of the demo peer, with a fresh key. */
async function demoClient(demo: DemoPeer) {
  const privateKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
  const mine = demoClientAddresses(nodeCrypto.x25519Public(privateKey));
  const answered = new Set<number>();
  const client = await UdpDevice.start({
    privateKey,
    host: "127.0.0.1",
    onPacket: (p) => {
      const sequence = parsePacket(p)?.echo?.sequence;
      if (sequence !== undefined) answered.add(sequence);
    },
    peers: [
      {
        publicKey: Buffer.from(demo.publicKey, "base64"),
        allowedIps: [`${DEMO_SERVER_V6}/128`],
        endpoint: { address: demo.host, port: demo.port },
      },
    ],
  });
  closers.push(() => client.close());
  // IPv6: each key's own address (IPv4 may collide, see demo-clients.test.ts).
  const send = (sequence: number) =>
    client.send(buildEcho({ source: mine.v6, destination: DEMO_SERVER_V6, id: 2, sequence }));
  return {
    send,
    async ping(sequence: number) {
      send(sequence);
      await expect.poll(() => answered.has(sequence), { timeout: 5000 }).toBe(true);
    },
  };
}
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

  it("answers DNS on port 53 for demo.wiregate (A, AAAA), NXDOMAIN in its zone, REFUSED elsewhere", async () => {
    const demo = await DemoPeer.start();
    closers.push(() => demo.close());
    const privateKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
    const mine = demoClientAddresses(nodeCrypto.x25519Public(privateKey));
    const replies: dnsPacket.DecodedPacket[] = [];
    const client = await UdpDevice.start({
      privateKey,
      host: "127.0.0.1",
      onPacket: (p) => {
        const udp = parsePacket(p)?.udp;
        if (udp?.sourcePort === 53) replies.push(dnsPacket.decode(Buffer.from(udp.data)));
      },
      peers: [
        {
          publicKey: Buffer.from(demo.publicKey, "base64"),
          allowedIps: [`${DEMO_SERVER_V4}/32`, `${DEMO_SERVER_V6}/128`],
          endpoint: { address: demo.host, port: demo.port },
        },
      ],
    });
    closers.push(() => client.close());
    const ask = (id: number, name: string, type: "A" | "AAAA", v6 = false) =>
      client.send(
        buildUdp({
          source: v6 ? mine.v6 : mine.v4,
          destination: v6 ? DEMO_SERVER_V6 : DEMO_SERVER_V4,
          sourcePort: 50_000 + id,
          destinationPort: 53,
          data: dnsPacket.encode({ type: "query", id, questions: [{ type, name }] }),
        }),
      );
    // Garbage first: no answer, and the questions after it are answered all the same.
    client.send(
      buildUdp({
        source: mine.v4,
        destination: DEMO_SERVER_V4,
        sourcePort: 49_999,
        destinationPort: 53,
        data: Uint8Array.of(1, 2, 3),
      }),
    );
    ask(1, "demo.wiregate", "A");
    ask(2, "DEMO.wiregate", "AAAA", true);
    ask(3, "other.wiregate", "A");
    ask(4, "example.org", "A");
    await expect.poll(() => replies.length, { timeout: 5000 }).toBe(4);
    const byId = new Map(
      replies.map((r) => [r.id, r as dnsPacket.DecodedPacket & { rcode: string }]),
    );
    expect(byId.get(1)).toMatchObject({
      rcode: "NOERROR",
      flag_aa: true,
      answers: [{ type: "A", name: "demo.wiregate", data: DEMO_SERVER_V4, ttl: 300 }],
    });
    expect(byId.get(2)).toMatchObject({
      rcode: "NOERROR",
      answers: [{ type: "AAAA", data: DEMO_SERVER_V6 }],
    });
    expect(byId.get(3)).toMatchObject({
      rcode: "NXDOMAIN",
      answers: [],
      authorities: [{ type: "SOA" }],
    });
    expect(byId.get(4)).toMatchObject({ rcode: "REFUSED", flag_aa: false });
  });

  it("gives a newcomer no slot while every client is active, and an idle client's slot", async () => {
    const events: TraceEvent[] = [];
    const demo = await DemoPeer.start({ maxClients: 2, onEvent: (e) => events.push(e) });
    closers.push(() => demo.close());
    const victim = await demoClient(demo);
    await victim.ping(1);
    await (await demoClient(demo)).ping(1);
    // The table is full of active clients: a fresh key's initiation is refused, nobody evicted.
    const newcomer = await demoClient(demo);
    newcomer.send(1);
    await expect
      .poll(() => events.some((e) => e.kind === "rejected" && /unknown key/.test(String(e.reason))))
      .toBe(true);
    expect(demo.clientCount).toBe(2);
    await victim.ping(2); // before: the newcomer took the victim's slot

    // Every client counts as idle here: a newcomer takes the slot of the idlest one.
    const lenient = await DemoPeer.start({ maxClients: 1, idleMs: 0 });
    closers.push(() => lenient.close());
    await (await demoClient(lenient)).ping(1);
    await (await demoClient(lenient)).ping(1);
    expect(lenient.clientCount).toBe(1);
  });
});

describe("the demo peer's web site inside the tunnel (netstack TCP over real UDP)", () => {
  it("serves its page, /bytes and /echo on IPv4 and IPv6", { timeout: 30_000 }, async () => {
    const demo = await DemoPeer.start();
    closers.push(() => demo.close());
    const privateKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
    const mine = demoClientAddresses(nodeCrypto.x25519Public(privateKey));
    let net: Netstack | undefined;
    const client = await UdpDevice.start({
      privateKey,
      host: "127.0.0.1",
      onPacket: (p) => net?.receive(p),
      peers: [
        {
          publicKey: Buffer.from(demo.publicKey, "base64"),
          allowedIps: [`${DEMO_SERVER_V4}/32`, `${DEMO_SERVER_V6}/128`],
          endpoint: { address: demo.host, port: demo.port },
        },
      ],
    });
    closers.push(() => client.close());
    net = new Netstack({ addresses: [mine.v4, mine.v6], send: (p) => client.send(p) });
    const text = async (r: Promise<HttpResponse>) => {
      const response = await r;
      return { status: response.status, text: await new Response(response.body).text() };
    };
    for (const [host, me] of [
      [DEMO_SERVER_V4, mine.v4],
      [DEMO_SERVER_V6, mine.v6],
    ] as const) {
      const home = await text(httpRequest(net, { host, path: "/" }));
      expect(home.status).toBe(200);
      expect(home.text).toContain("You are inside the tunnel");
      expect(home.text).toContain(`<code id="client">${me}</code>`);
      const logo = await text(httpRequest(net, { host, path: "/logo.svg" }));
      expect(logo.text).toMatch(/^<svg/);
      const bytes = await httpRequest(net, { host, path: "/bytes?n=1000000" });
      const body = new Uint8Array(await new Response(bytes.body).arrayBuffer());
      expect(body.length).toBe(1_000_000);
      expect(body.every((b, i) => b === (((i % 65536) * 31 + ((i % 65536) >> 8)) & 0xff))).toBe(
        true,
      );
      const payload = randomBytes(300_000);
      const echo = await httpRequest(net, { host, method: "POST", path: "/echo", body: payload });
      expect(Buffer.from(await new Response(echo.body).arrayBuffer()).equals(payload)).toBe(true);
      expect((await text(httpRequest(net, { host, path: "/bytes?n=-1" }))).status).toBe(400);
      expect((await text(httpRequest(net, { host, path: "/nothing" }))).status).toBe(404);
    }
  });
});

describe("the demo peer's web site under a connection flood", () => {
  it("holds at most DEMO_MAX_CONNECTIONS within the buffer budget, counts the refusals and still serves afterwards", {
    timeout: 60_000,
  }, async () => {
    const demo = await DemoPeer.start();
    closers.push(() => demo.close());
    const privateKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
    const mine = demoClientAddresses(nodeCrypto.x25519Public(privateKey));
    let net: Netstack | undefined;
    const client = await UdpDevice.start({
      privateKey,
      host: "127.0.0.1",
      onPacket: (p) => net?.receive(p),
      peers: [
        {
          publicKey: Buffer.from(demo.publicKey, "base64"),
          allowedIps: [`${DEMO_SERVER_V4}/32`],
          endpoint: { address: demo.host, port: demo.port },
        },
      ],
    });
    closers.push(() => client.close());
    net = new Netstack({ addresses: [mine.v4], send: (p) => client.send(p) });
    // Idle connections that never send a request: more than the demo peer holds.
    const idle = Array.from({ length: DEMO_MAX_CONNECTIONS + 44 }, () =>
      net!.connect({ host: DEMO_SERVER_V4, port: 80 }).catch(() => undefined),
    );
    await expect.poll(() => demo.net.stack.stats.tableFull, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(demo.net.stack.tcp.connectionCount).toBe(DEMO_MAX_CONNECTIONS);
    // Buffers in total: full-size for the budget's share of connections, 64 KiB for the others.
    const { total, fallback } = DEMO_BUFFER_BUDGET;
    const full = Math.floor(total / (2 * DEMO_BUFFER));
    expect(demo.net.stack.tcp.bufferCapacity).toBe(
      full * 2 * DEMO_BUFFER + (DEMO_MAX_CONNECTIONS - full) * 2 * fallback,
    );
    expect(demo.net.stack.tcp.bufferCapacity).toBeLessThanOrEqual(
      total + DEMO_MAX_CONNECTIONS * 2 * fallback,
    );
    // The head timeout (10 s) frees the table; then a real request is answered.
    await expect
      .poll(() => demo.net.stack.tcp.connectionCount, { timeout: 30_000 })
      .toBeLessThan(DEMO_MAX_CONNECTIONS);
    const response = await httpRequest(net, { host: DEMO_SERVER_V4, path: "/" });
    expect(response.status).toBe(200);
    void idle;
  });
});
