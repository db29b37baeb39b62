import { createReadStream, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readWireGuardMessages, type WireGuardMessage } from "@wiregate/capture";
import { describe, expect, it } from "vitest";
import { openCapture, rotatedName } from "../src/capture.js";
import { DEFAULT_CONFIG, mergeConfig } from "../src/config.js";
import { silentLogger } from "../src/logger.js";
import { Relay } from "../src/relay.js";
import { connect, roundTrip, startEcho, TOKEN, TRANSPORTS } from "./helpers.js";

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
