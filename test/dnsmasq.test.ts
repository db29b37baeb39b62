/**
 * The dnsmasq helper (helpers/dnsmasq.ts): a name server in a namespace for a given name map,
 * asked over real UDP from the root namespace. Its names answer A and AAAA with the TTL asked
 * for, another name in its domain is NXDOMAIN, and each query is counted per name.
 */
import { createSocket } from "node:dgram";
import { once } from "node:events";
import dnsPacket from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dnsmasq, startDnsmasq } from "./helpers/dnsmasq.js";
import { createNamespace, type Namespace } from "./helpers/netns.js";

let ns: Namespace;
let dns: Dnsmasq;

beforeAll(async () => {
  ns = await createNamespace();
  dns = await startDnsmasq(ns, {
    names: { "web.wg.test": ["10.77.0.5", "fd77::5"], "v4only.wg.test": "10.77.0.6" },
    listen: [ns.address.v4],
    ttl: 7,
  });
}, 30_000);

afterAll(async () => {
  await dns?.stop();
  await ns?.destroy();
});

/**
 * One query over UDP to the namespace's dnsmasq; its decoded answer. Like any resolver, it asks
 * again each second until an answer arrives: one datagram may be lost on a busy machine.
 */
async function ask(name: string, type: "A" | "AAAA") {
  const socket = createSocket("udp4");
  const id = Math.floor(Math.random() * 0x10000);
  const query = dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
  });
  const send = () => socket.send(query, dns.port, ns.address.v4);
  const resend = setInterval(send, 1_000);
  try {
    send();
    const [message] = (await once(socket, "message")) as [Buffer];
    const answer = dnsPacket.decode(message);
    expect(answer.id).toBe(id);
    // dns-packet decodes the response code; its type definitions leave it out.
    return { ...answer, rcode: (answer as { rcode?: string }).rcode };
  } finally {
    clearInterval(resend);
    socket.close();
  }
}

describe("dnsmasq in a namespace", () => {
  it("answers its names with A and AAAA records and the TTL asked for", async () => {
    const a = await ask("web.wg.test", "A");
    expect(a.rcode).toBe("NOERROR");
    expect(a.answers).toEqual([expect.objectContaining({ type: "A", ttl: 7, data: "10.77.0.5" })]);
    const aaaa = await ask("web.wg.test", "AAAA");
    expect(aaaa.answers).toEqual([
      expect.objectContaining({ type: "AAAA", ttl: 7, data: "fd77::5" }),
    ]);
    // A name with no IPv6 address: no AAAA record, and no error.
    const none = await ask("v4only.wg.test", "AAAA");
    expect(none.rcode).toBe("NOERROR");
    expect(none.answers).toEqual([]);
  });

  it("says NXDOMAIN for another name of its domain, and counts the queries per name", async () => {
    const before = dns.queries("web.wg.test");
    const missing = await ask("nobody.wg.test", "A");
    expect(missing.rcode).toBe("NXDOMAIN");
    await ask("web.wg.test", "A");
    await dns.waitForQueries("web.wg.test", before + 1);
    await dns.waitForQueries("nobody.wg.test", 1);
    expect(dns.queries()).toBeGreaterThanOrEqual(5);
  });
});
