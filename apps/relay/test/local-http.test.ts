/**
 * The loopback plain-HTTP listener from outside the relay process: it serves the page, its
 * defaults (with the ws:// fallback) and WebSocket upgrades, but only to requests that name a
 * loopback host, so a site rebinding its DNS name to 127.0.0.1 gets nothing; and to Browse
 * origins (`<target>.wiregate.localhost`, content from inside a tunnel) only the Browse bridge.
 */

import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { originRefusal } from "../src/origin-check.js";
import { CONTENT_SECURITY_POLICY } from "../src/static-files.js";
import { type RelayProcess, spawnRelay } from "./relay-process.js";

const site = mkdtempSync(join(tmpdir(), "wiregate-local-site-"));
let relay: RelayProcess;
let port: number;

beforeAll(async () => {
  writeFileSync(join(site, "index.html"), "<!doctype html><title>site</title>\n");
  mkdirSync(join(site, "__wiregate"));
  writeFileSync(join(site, "__wiregate", "bridge.html"), "<!doctype html><title>bridge</title>\n");
  writeFileSync(join(site, "__wiregate", "sw.js"), "// the Service Worker\n");
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
function upgrade(host: string, origin = `http://${host}`): Promise<string> {
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
          `Origin: ${origin}`,
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

  it("gives Browse origins the bridge only: no page, defaults, methods or sessions", async () => {
    const browse = `v4-8080-10-79-0-1.wiregate.localhost:${port}`;
    const page = `http://wiregate.localhost:${port}`;
    // The page itself is also served as wiregate.localhost, whose site Browse origins share.
    expect((await get("/", `wiregate.localhost:${port}`)).body).toContain("<title>site</title>");
    for (const path of ["/", "/index.html", "/wiregate.json", "/app/x?y"]) {
      const answer = await get(path, browse);
      expect(answer.status).toBe(200);
      expect(answer.body).toContain("<title>bridge</title>");
      expect(answer.headers["content-security-policy"]).toMatch(
        new RegExp(`frame-ancestors [^;]*${page.replaceAll(".", "\\.")}`),
      );
      expect(answer.headers["content-security-policy"]).not.toMatch(/\[::1\]/);
    }
    const worker = await get("/__wiregate/sw.js", browse);
    expect(worker.body).toBe("// the Service Worker\n");
    expect(worker.headers["service-worker-allowed"]).toBe("/");
    expect(JSON.parse((await get("/__wiregate/pages.json", browse)).body).pages).toContain(page);
    expect((await get("/__wiregate/other.js", browse)).status).toBe(404);
    expect((await get("/healthz", `v4-80-10-0-0-1.localhost:${port}`)).body).toContain("bridge");
    // No WebSocket session from a Browse host, nor from a Browse origin to the relay's own host.
    expect(await upgrade(browse)).toBe("");
    // (A session from a Browse origin to the relay's own host is refused by the origin check,
    // whatever origins the relay lets in.)
    for (const allowedOrigins of [[], ["*"], [`http://${browse}`]])
      expect(
        originRefusal(
          { origin: `http://${browse}`, host: `127.0.0.1:${port}` },
          { allowedOrigins, requireOrigin: false },
        ),
      ).toMatch(/is a Browse origin/);
    // Not a Browse label: a name the listener does not answer to.
    expect((await get("/", `other.wiregate.localhost:${port}`)).status).toBe(421);
  });
});
