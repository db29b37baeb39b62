/**
 * The demo peer hands out tunnel addresses through the relay: a client says its public key in the
 * hello and gets its addresses in the welcome, never an address another client holds. Against a
 * relay process with its demo peer; the victim is our engine as a WireGuard client pinging
 * through it while hundreds of other keys, colliding ones among them, ask for addresses.
 */
import { randomBytes } from "node:crypto";
import { quicheLoaded, WebTransport } from "@fails-components/webtransport";
import { keyToBase64 } from "@wiregate/core";
import { DEMO_SERVER_V4, DEMO_SERVER_V6, demoClientAddresses } from "@wiregate/packets";
import { connectRelay, type WebTransportConstructor } from "@wiregate/relay-protocol";
import { afterEach, describe, expect, it } from "vitest";
import { TOKEN } from "../apps/relay/test/helpers.js";
import { type RelayProcess, relayProcesses } from "../apps/relay/test/relay-process.js";
import { RelayClient } from "./helpers/relay-client.js";

const { relayWith } = relayProcesses();
const clients: RelayClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

/** A hello with `publicKey` and nothing else: the welcome's addresses, the session closed. */
async function addressesFor(relay: RelayProcess, publicKey: Uint8Array): Promise<string[]> {
  await quicheLoaded;
  const conn = await connectRelay({
    WebTransport: WebTransport as unknown as WebTransportConstructor,
    url: relay.address.url,
    token: TOKEN,
    upstream: "demo",
    publicKey: keyToBase64(publicKey),
    serverCertificateHashes: [{ algorithm: "sha-256", value: relay.address.certificateSha256 }],
    transportOptions: { forceReliable: true },
  });
  conn.close();
  return conn.welcome.addresses ?? [];
}

/** `count` random keys, among them one whose derived IPv4 is `taken`'s and a colliding pair. */
function churnKeys(count: number, taken: string): Uint8Array[] {
  const keys: Uint8Array[] = [];
  const seen = new Set<string>();
  let pair = false;
  let victimTwin = false;
  while (keys.length < count || !pair || !victimTwin) {
    const key = new Uint8Array(randomBytes(32));
    const { v4 } = demoClientAddresses(key);
    const twin = v4 === taken && !victimTwin;
    const collides = seen.has(v4) && !pair;
    if (twin) victimTwin = true;
    if (collides) pair = true;
    // Beyond `count`, only the keys still missing are kept.
    if (keys.length < count || twin || collides) keys.push(key);
    seen.add(v4);
  }
  return keys;
}

describe("demo peer addresses through the relay", () => {
  it("gives 400+ keys distinct addresses in the welcome while a victim keeps pinging", async () => {
    const relay = await relayWith(["--demo"]);
    const victim = new RelayClient();
    clients.push(victim);
    const { welcome } = await victim.connect(relay.address, "demo", TOKEN);
    expect(welcome.upstreamPublicKey).toBeDefined();
    victim.addPeer(welcome.upstreamPublicKey!, [`${DEMO_SERVER_V4}/32`, `${DEMO_SERVER_V6}/128`]);
    const derived = demoClientAddresses(victim.device.publicKey);
    expect(welcome.addresses).toEqual([`${derived.v4}/32`, `${derived.v6}/128`]);
    const ping = async () => {
      await victim.ping(derived.v4, DEMO_SERVER_V4, 10_000);
      await victim.ping(derived.v6, DEMO_SERVER_V6, 10_000);
    };
    await ping();

    const keys = churnKeys(420, derived.v4);
    const given = [welcome.addresses!];
    // A few at a time: the relay lets one address hold 8 sessions before their hello.
    for (let i = 0; i < keys.length; i += 6) {
      given.push(...(await Promise.all(keys.slice(i, i + 6).map((k) => addressesFor(relay, k)))));
      if (i % 120 === 0) await ping();
    }
    // Someone claiming the victim's key is answered with the victim's addresses, and takes nothing.
    given.push(await addressesFor(relay, victim.device.publicKey));
    await ping();

    const all = given.slice(0, -1).flat();
    expect(all.length).toBe(2 * (keys.length + 1));
    expect(new Set(all).size).toBe(all.length); // no address given twice
    expect(given.at(-1)).toEqual(welcome.addresses);
  }, 180_000);
});
