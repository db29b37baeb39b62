import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readWireGuardMessages, type WireGuardMessage } from "@wiregate/capture";
import { describe, expect, it } from "vitest";
import { existingIndexes, openCapture, rotatedName } from "../src/capture.js";
import { DEFAULT_CONFIG, mergeConfig } from "../src/config.js";
import { silentLogger } from "../src/logger.js";
import { Relay } from "../src/relay.js";
import { connect, roundTrip, startEcho, TOKEN, TRANSPORTS } from "./helpers.js";
import { spawnRelay } from "./relay-process.js";

async function messagesOf(file: string): Promise<WireGuardMessage[]> {
  const out: WireGuardMessage[] = [];
  for await (const record of readWireGuardMessages(createReadStream(file))) {
    if (record.kind === "wireguard") out.push(record);
  }
  return out;
}

describe("capture", () => {
  it.each(TRANSPORTS)(
    "records forwarded messages both ways with synthesized addresses, rotating by size (%s)",
    async (transport) => {
      const dir = mkdtempSync(join(tmpdir(), "wiregate-capture-"));
      const file = join(dir, "relay.pcapng");
      const echo = await startEcho();
      const capture = await openCapture(file, 4096, silentLogger);
      const config = mergeConfig(DEFAULT_CONFIG, {
        port: 0,
        opsPort: null,
        http3: transport === "http3",
        certDir: join(dir, "cert"),
        tokens: [TOKEN],
        upstreams: [{ name: "echo", host: "127.0.0.1", port: echo.port }],
      });
      const relay = new Relay({ config, capture });
      const address = await relay.start();
      const before = Date.now();
      const conn = await connect(address, { transport });
      expect(conn.welcome.transport).toBe(transport);
      const iterator = conn.datagrams[Symbol.asyncIterator]();
      for (let i = 0; i < 40; i++) await roundTrip(conn, iterator, i); // 80 messages of 64 bytes
      conn.close();
      await relay.stop(100);
      await capture.close();
      await echo.close();

      expect(existsSync(rotatedName(file, 1))).toBe(true);
      const messages: WireGuardMessage[] = [];
      for (let i = 0; existsSync(rotatedName(file, i)); i++)
        messages.push(...(await messagesOf(rotatedName(file, i))));
      expect(messages).toHaveLength(80);
      const toUpstream = messages.filter((m) => m.dst.port === echo.port);
      const toClient = messages.filter((m) => m.src.port === echo.port);
      expect(toUpstream).toHaveLength(40);
      expect(toClient).toHaveLength(40);
      expect(new Set(toUpstream.map((m) => `${m.src.address}:${m.src.port}`)).size).toBe(1);
      expect(toUpstream[0]!.src.address).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./);
      expect(toClient[0]!.dst).toEqual(toUpstream[0]!.src);
      expect(toUpstream[0]!.header.type).toBe(4);
      expect(toUpstream[0]!.time * 1000).toBeGreaterThanOrEqual(before - 1000);
      expect(toUpstream[0]!.time * 1000).toBeLessThanOrEqual(Date.now());
    },
  );
});

describe("capture files of a relay process", () => {
  it("are created 0600, never overwrite an earlier file, and only the newest --capture-keep-files stay", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wiregate-capture-proc-"));
    const file = join(dir, "relay.pcapng");
    writeFileSync(file, "an earlier run");
    const echo = await startEcho();
    const relay = await spawnRelay([
      `--upstream=echo=127.0.0.1:${echo.port}`,
      `--capture=${file}`,
      "--capture-rotate-bytes=4096",
      "--capture-keep-files=3",
    ]);
    const mode = (index: number) => statSync(rotatedName(file, index)).mode & 0o777;
    try {
      // The restart continues after the existing file instead of truncating it.
      expect(readFileSync(file, "utf8")).toBe("an earlier run");
      expect(existingIndexes(file)).toEqual([0, 1]);
      expect(mode(1)).toBe(0o600);

      const conn = await connect(relay.address, { transport: "http2" });
      const iterator = conn.datagrams[Symbol.asyncIterator]();
      // 200 messages of about 130 bytes each in the file: several rotations at 4096 bytes.
      for (let i = 0; i < 100; i++) await roundTrip(conn, iterator, i);
      conn.close();
      const left = existingIndexes(file);
      expect(left).toHaveLength(3);
      expect(left[2]).toBeGreaterThanOrEqual(5);
      expect(left.map(mode)).toEqual([0o600, 0o600, 0o600]);
    } finally {
      relay.stop();
      await echo.close();
    }
  }, 60_000);
});
