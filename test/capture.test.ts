import { describe, expect, it } from "vitest";
import { startCapture } from "./helpers/capture.js";
import { generateKeyPair, startWireGuardPeer } from "./helpers/netns.js";
import { tsharkFields } from "./helpers/tshark.js";

describe("packet capture", () => {
  it("records the handshake (types 1, 2) and transport data (type 4) of a ping", async () => {
    const keysA = await generateKeyPair();
    const keysB = await generateKeyPair();
    const a = await startWireGuardPeer({
      privateKey: keysA.privateKey,
      addresses: ["10.80.0.1/24"],
      peers: [{ publicKey: keysB.publicKey, allowedIPs: ["10.80.0.2/32"] }],
    });
    const b = await startWireGuardPeer({
      privateKey: keysB.privateKey,
      addresses: ["10.80.0.2/24"],
      peers: [{ publicKey: keysA.publicKey, endpoint: a.endpoint, allowedIPs: ["10.80.0.1/32"] }],
    });
    try {
      const capture = await startCapture({ ns: a.ns, iface: a.ns.iface, filter: "udp" });
      const result = await b.ping("10.80.0.1", { count: 2 });
      expect(result.ok, result.output).toBe(true);
      const file = await capture.stop();

      const rows = await tsharkFields(file, ["wg.type", "udp.dstport"], { displayFilter: "wg" });
      const types = new Set(rows.map((row) => row["wg.type"]));
      expect(types).toEqual(new Set(["1", "2", "4"]));
      // The initiation went from B to A's listen port.
      expect(rows.find((row) => row["wg.type"] === "1")?.["udp.dstport"]).toBe(
        String(a.listenPort),
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("reports a capture filter tshark rejects instead of hanging", async () => {
    await expect(startCapture({ iface: "lo", filter: "not a filter (" })).rejects.toThrow(/tshark/);
  });
});
