/** The kernel's per-socket UDP drop counters, read from /proc/net/udp{,6}. */

import { createSocket } from "node:dgram";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseProcNetUdp, readUdpDrops, udpKey } from "../src/socket-drops.js";

const SAMPLE = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  166: 0100007F:91A7 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2847342 2 000000007f38a191 0
  611: 00000000:D364 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2847346 2 00000000be04efb6 1908
`;

describe("parseProcNetUdp", () => {
  it("reads each local port's drops", () => {
    const drops = parseProcNetUdp(SAMPLE, 4);
    expect([...drops]).toEqual([
      [udpKey(4, 0x91a7), 0],
      [udpKey(4, 0xd364), 1908],
    ]);
    const v6 = parseProcNetUdp(
      "  3: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 99 2 0000000000000000 7",
      6,
    );
    expect(v6.get(udpKey(6, 0x1f90))).toBe(7);
  });

  it("skips what does not have the kernel's shape, and never throws (fuzz)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom(...SAMPLE.split("\n"))), { maxLength: 20 }),
        (lines) => {
          for (const count of parseProcNetUdp(lines.join("\n"), 4).values())
            expect(Number.isSafeInteger(count) && count >= 0).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
    expect(
      parseProcNetUdp(
        "1: 0100007F:91A7 x x x x x x x x x x -5\n1: 0100007F:ZZZZ a b c d e f g h i j 3",
        4,
      ).size,
    ).toBe(0);
  });
});

describe("readUdpDrops", () => {
  it("finds a socket of this process in this network namespace", async () => {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    try {
      const drops = await readUdpDrops();
      expect(drops.get(udpKey(4, socket.address().port))).toBe(0);
    } finally {
      socket.close();
    }
  });
});
