/**
 * The loopback plain-HTTP listener from outside the relay process: it serves the page, its
 * defaults (with the ws:// fallback) and WebSocket upgrades, but only to requests that name a
 * loopback host, so a site rebinding its DNS name to 127.0.0.1 gets nothing.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../src/static-files.js";
import { type RelayProcess, spawnRelay } from "./relay-process.js";

const site = mkdtempSync(join(tmpdir(), "wiregate-local-site-"));
let relay: RelayProcess;
let port: number;

beforeAll(async () => {
  writeFileSync(join(site, "index.html"), "<!doctype html><title>site</title>\n");
  relay = await spawnRelay([`--static=${site}`, "--local-http-port=0"]);
  port = Number(new URL(relay.address.localHttpUrl!).port);
});
afterAll(() => relay?.stop());

function get(path: string, host: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path, headers: { host } }, (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on("error", reject).end();
    },
  );
}

/** Sends a WebSocket upgrade as the web page's library does; the first bytes of the answer. */
function upgrade(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(
        [
          "GET /wiregate HTTP/1.1",
          `Host: ${host}`,
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Protocol: webtransport_kDraft2",
          `Origin: http://${host}`,
          "",
          "",
        ].join("\r\n"),
      );
    });
    let answer = "";
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n\r\n")) socket.destroy();
    });
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
  });
}

describe("loopback plain-HTTP listener", () => {
  it("prints its URL on loopback and serves the page with the TLS port's headers", async () => {
    expect(relay.address.localHttpUrl).toBe(`http://127.0.0.1:${port}/`);
    const page = await get("/", `127.0.0.1:${port}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("<title>site</title>");
    expect(page.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
    for (const host of [`localhost:${port}`, `[::1]:${port}`])
      expect((await get("/", host)).status).toBe(200);
  });

  it("publishes the ws:// fallback beside the page", async () => {
    const defaults = JSON.parse((await get("/wiregate.json", `127.0.0.1:${port}`)).body);
    expect(defaults.websocket).toBe(`ws://127.0.0.1:${port}/wiregate`);
    expect(defaults.relay).toBe(relay.address.url);
  });

  it("refuses requests naming another host (DNS rebinding)", async () => {
    for (const host of [
      `evil.example:${port}`,
      "127.0.0.1.evil.example",
      "localhost.evil.example",
    ]) {
      const answer = await get("/wiregate.json", host);
      expect(answer.status).toBe(421);
      expect(answer.body).not.toContain("wiregate");
    }
  });

  it("hands WebSocket upgrades to the WebTransport library, for loopback hosts only", async () => {
    expect(await upgrade(`127.0.0.1:${port}`)).toMatch(
      /^HTTP\/1\.1 101 Switching Protocols\r\n[\s\S]*Sec-WebSocket-Protocol: webtransport_kDraft2\r\n/,
    );
    expect(await upgrade(`evil.example:${port}`)).toBe("");
  });
});
