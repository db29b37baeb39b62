/** The static site on the relay's TLS port, from outside: no symlinks, no dotfiles, safe headers. */

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../src/static-files.js";
import { type RelayProcess, spawnRelay } from "./relay-process.js";

const outside = mkdtempSync(join(tmpdir(), "wiregate-outside-"));
const site = mkdtempSync(join(tmpdir(), "wiregate-site-"));
let relay: RelayProcess;

beforeAll(async () => {
  writeFileSync(join(outside, "secret.txt"), "outside the site\n");
  writeFileSync(join(site, "index.html"), "<!doctype html><title>site</title>\n");
  writeFileSync(join(site, ".env"), "TOKEN=leaked\n");
  mkdirSync(join(site, ".git"));
  writeFileSync(join(site, ".git", "config"), "[core]\n");
  mkdirSync(join(site, "assets"));
  writeFileSync(join(site, "assets", "index-BSglgDWu.js"), "export {};\n");
  symlinkSync(join(outside, "secret.txt"), join(site, "escape.txt"));
  symlinkSync(outside, join(site, "linked-dir"));
  symlinkSync(join(site, "index.html"), join(site, "alias.html"));
  relay = await spawnRelay([`--static=${site}`]);
});
afterAll(() => relay?.stop());

type Reply = { status: number; headers: Record<string, unknown>; body: string };

/** HTTP/1.1 over TLS. */
function get(path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: relay.address.port, path, rejectUnauthorized: false },
      (res) => {
        let body = "";
        res
          .on("data", (chunk) => (body += chunk))
          .on("end", () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
      },
    );
    req.on("error", reject).end();
  });
}

/** HTTP/2, as a browser asks. */
function get2(path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${relay.address.port}`, {
      rejectUnauthorized: false,
    });
    session.on("error", reject);
    const stream = session.request({ ":path": path });
    let headers: Record<string, unknown> = {};
    let body = "";
    stream.on("response", (h) => (headers = h));
    stream.on("data", (chunk) => (body += chunk));
    stream.on("end", () => {
      session.close();
      resolve({ status: Number(headers[":status"]), headers, body });
    });
    stream.on("error", reject);
  });
}

describe.each([
  ["HTTP/1.1", get],
  ["HTTP/2", get2],
] as const)("static files over %s", (_, fetchPath) => {
  it("serves the site with security headers", async () => {
    const page = await fetchPath("/");
    expect(page.status).toBe(200);
    expect(page.body).toContain("<title>site</title>");
    expect(page.headers).toMatchObject({
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    });
    const asset = await fetchPath("/assets/index-BSglgDWu.js");
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
  });

  it("serves no dotfile and follows no symbolic link", async () => {
    for (const path of ["/.env", "/.git/config", "/assets/../.env", "/%2eenv"]) {
      const reply = await fetchPath(path);
      expect(reply.status, path).toBeGreaterThanOrEqual(400);
      expect(reply.body, path).not.toContain("leaked");
    }
    for (const path of ["/escape.txt", "/linked-dir/secret.txt", "/alias.html"]) {
      const reply = await fetchPath(path);
      expect(reply.status, path).toBe(404);
      expect(reply.body, path).not.toContain("outside the site");
      expect(reply.headers["x-content-type-options"], path).toBe("nosniff");
    }
  });
});
