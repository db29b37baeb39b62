import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UdpDecoder } from "../src/decoder.js";
import { readCaptureBytes } from "../src/reader.js";
import { SECRETS_TYPE_WIREGUARD } from "../src/records.js";
import { extractWireGuard } from "../src/wireguard.js";
import { PcapngWriter } from "../src/writer.js";
import {
  CAPTURES_DIR,
  concat,
  packets,
  scratchDir,
  tshark,
  tsharkRows,
  udp4,
  udp6,
  wgInitiation,
  wgTransport,
  writeTemp,
} from "./helpers.js";

describe("PcapngWriter", () => {
  const scratch = scratchDir();
  afterAll(scratch.cleanup);

  it("writes files that our reader and tshark read identically", async () => {
    const writer = new PcapngWriter({ userApplication: "wiregate test" });
    const chunks = [
      writer.addInterface({ linkType: 101, name: "relay-v4" }),
      writer.addInterface({ linkType: 229, timestampResolution: "us" }),
      writer.writeWireGuardKeyLog("LOCAL_STATIC_PRIVATE_KEY = AAAA\n"), // 31 bytes: padded to 32
      writer.writePacket({
        timestampNs: 1_800_000_000_000_000_001n,
        data: udp4(wgInitiation(0x11223344)),
        comment: "initiation",
      }),
      writer.writePacket({
        interfaceId: 1,
        timestampNs: 1_800_000_000_500_000_000n,
        data: udp6(wgTransport(0x55667788, 3n)),
      }),
    ];
    expect(chunks.every((c) => c.length % 4 === 0)).toBe(true);
    const path = writeTemp(scratch.dir, "written.pcapng", chunks);

    const records = [...readCaptureBytes(concat(chunks))];
    expect(records.map((r) => r.kind)).toEqual(["secrets", "packet", "packet"]);
    expect(records[0]).toMatchObject({
      type: SECRETS_TYPE_WIREGUARD,
      text: "LOCAL_STATIC_PRIVATE_KEY = AAAA\n",
    });
    const decoder = new UdpDecoder();
    const ours = packets(records).map((r) => {
      const m = extractWireGuard(r, decoder)!;
      return [
        String(m.index),
        `${r.timestampNs / 1_000_000_000n}.${(r.timestampNs % 1_000_000_000n).toString().padStart(9, "0")}`,
        String(m.header.type),
        m.src.address,
      ];
    });
    const rows = await tsharkRows(
      path,
      ["frame.number", "frame.time_epoch", "wg.type", "ip.src", "ipv6.src"],
      { displayFilter: "wg" },
    );
    expect(rows.map((r) => [r[0], r[1], r[2], r[3] || r[4]])).toEqual(ours);
    expect(ours.map((r) => r[3])).toEqual(["10.0.0.1", "fd00::1"]);
    const comment = await tshark([
      "-r",
      path,
      "-T",
      "fields",
      "-e",
      "frame.comment",
      "-Y",
      "frame.number == 1",
    ]);
    expect(comment.trim()).toBe("initiation");
  });

  it("embeds a WireGuard key log that tshark uses to decrypt with no other options", async () => {
    const dir = join(CAPTURES_DIR, "collision-stall-fulldecrypt");
    const keyLog = readFileSync(join(dir, "keylog-full.txt"), "utf8");
    const source = packets([
      ...readCaptureBytes(readFileSync(join(dir, "full-sim-nopsk-crossed-run02.pcapng"))),
    ]);
    const writer = new PcapngWriter();
    const chunks = [
      writer.addInterface({ linkType: source[0]!.linkType }),
      writer.writeWireGuardKeyLog(keyLog),
    ];
    for (const record of source)
      chunks.push(writer.writePacket({ timestampNs: record.timestampNs, data: record.data }));
    const path = writeTemp(scratch.dir, "decryptable.pcapng", chunks);

    const decrypted = await tsharkRows(path, ["frame.number", "wg.handshake_ok"], {
      displayFilter: "wg.type == 2",
    });
    // The crossed responses (frames 3–4) were valid, just dropped by wireguard-go: they decrypt.
    expect(decrypted.length).toBeGreaterThanOrEqual(2);
    expect(decrypted.every((row) => row[1] === "1")).toBe(true);
    const without = await tsharkRows(
      join(dir, "full-sim-nopsk-crossed-run02.pcapng"),
      ["wg.handshake_ok"],
      { displayFilter: "wg.type == 2" },
    );
    expect(without.every((row) => row[0] !== "1")).toBe(true);
  });

  it("throws labelled errors for caller mistakes", () => {
    const writer = new PcapngWriter();
    expect(() => writer.writePacket({ timestampNs: 0n, data: new Uint8Array(1) })).toThrow(
      /interface 0 not declared/,
    );
    writer.addInterface({ linkType: 1 });
    expect(() => writer.writePacket({ timestampNs: -1n, data: new Uint8Array(1) })).toThrow(
      RangeError,
    );
    expect(() =>
      writer.writePacket({ timestampNs: 0n, data: new Uint8Array(4), originalLength: 2 }),
    ).toThrow(RangeError);
    expect(() => writer.addInterface({ linkType: 70000 })).toThrow(RangeError);
  });

  it("starts new sections with interface ids from 0", () => {
    const writer = new PcapngWriter();
    const chunks = [
      writer.addInterface({ linkType: 101 }),
      writer.writePacket({ timestampNs: 1n, data: udp4(new Uint8Array(1)) }),
    ];
    chunks.push(writer.startSection({ littleEndian: false }));
    expect(writer.interfaceCount).toBe(0);
    chunks.push(writer.addInterface({ linkType: 1, timestampResolution: "us" }));
    chunks.push(writer.writePacket({ timestampNs: 2_000n, data: new Uint8Array(14) }));
    const p = packets([...readCaptureBytes(concat(chunks))]);
    expect(p.map((r) => [r.index, r.interfaceId, r.linkType, r.timestampNs])).toEqual([
      [1, 0, 101, 1n],
      [2, 0, 1, 2000n],
    ]);
  });
});
