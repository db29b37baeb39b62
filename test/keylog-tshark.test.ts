/**
 * The engine's opt-in key log is real Wireshark key material: a session between two of our
 * devices, written to pcapng with the key log embedded, is decrypted by tshark with no options.
 */
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildUdpPacket, LINKTYPE_RAW, PcapngWriter } from "@wiregate/capture";
import { Device, deterministicRandom, generatePrivateKey, type Output } from "@wiregate/core";
import { buildEcho } from "@wiregate/packets";
import { afterAll, describe, expect, it } from "vitest";
import { tsharkFields } from "./helpers/tshark.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("key log", () => {
  it("lets tshark decrypt a session between two of our devices, handshake and data", async () => {
    const random = deterministicRandom("keylog-tshark");
    const endpoint = {
      a: { address: "192.0.2.1", port: 51820 },
      b: { address: "192.0.2.2", port: 51821 },
    };
    const wallClock = () => 1_700_000_000_000_000_000n;
    const a = new Device({
      privateKey: generatePrivateKey(random),
      random,
      wallClock,
      keyLog: true,
    });
    const b = new Device({
      privateKey: generatePrivateKey(random),
      random,
      wallClock,
      keyLog: true,
    });
    const keyLog: string[] = [];
    const writer = new PcapngWriter({ userApplication: "wiregate test" });
    const header = writer.addInterface({ linkType: LINKTYPE_RAW, timestampResolution: "ns" });
    const packets: Uint8Array[] = [];
    let now = 0;
    const inFlight: { from: "a" | "b"; data: Uint8Array }[] = [];
    const take = (from: "a" | "b", out: Output) => {
      keyLog.push(...out.keyLog);
      for (const d of out.datagrams) inFlight.push({ from, data: d.data });
    };
    take(
      "a",
      a.addPeer(0, { publicKey: b.publicKey, allowedIps: ["10.9.0.2/32"], endpoint: endpoint.b }),
    );
    take(
      "b",
      b.addPeer(0, { publicKey: a.publicKey, allowedIps: ["10.9.0.1/32"], endpoint: endpoint.a }),
    );
    take(
      "a",
      a.send(0, buildEcho({ source: "10.9.0.1", destination: "10.9.0.2", id: 7, sequence: 1 })),
    );
    while (inFlight.length > 0) {
      const m = inFlight.shift()!;
      const to = m.from === "a" ? "b" : "a";
      now += 1;
      packets.push(
        writer.writePacket({
          timestampNs: 1_700_000_000_000_000_000n + BigInt(now) * 1_000_000n,
          data: buildUdpPacket({ src: endpoint[m.from], dst: endpoint[to], payload: m.data }),
        }),
      );
      take(to, (to === "a" ? a : b).receive(now, m.data, endpoint[m.from]));
    }
    // Both sides' ephemeral keys are in the log; the static private keys too.
    expect(keyLog.filter((l) => l.startsWith("LOCAL_EPHEMERAL_PRIVATE_KEY"))).toHaveLength(2);
    // tshark reads in one pass: the secrets block goes before the packets it decrypts.
    const secrets = writer.writeWireGuardKeyLog(`${keyLog.join("\n")}\n`);
    const dir = await mkdtemp(join(tmpdir(), "wiregate-keylog-"));
    dirs.push(dir);
    const file = join(dir, "session.pcapng");
    writeFileSync(file, Buffer.concat([header, secrets, ...packets]));

    const fields = ["wg.type", "wg.static", "wg.handshake_ok", "icmp.type", "icmp.seq"];
    const rows = await tsharkFields(file, fields, { displayFilter: "wg" });
    expect(rows.map((r) => r["wg.type"])).toEqual(["1", "2", "4"]);
    // The initiation's encrypted static key, decrypted: A's public key.
    expect(rows[0]!["wg.static"]).toBe(a.publicKeyBase64);
    expect(rows[1]!["wg.handshake_ok"]).toBe("1");
    // The echo request inside the transport message, decrypted by tshark.
    expect(rows[2]).toMatchObject({ "icmp.type": "8", "icmp.seq": "1" });
  });
});
