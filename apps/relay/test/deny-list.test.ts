/**
 * The deny list in process: its parser names a bad line, a bad file keeps the previous list, and a
 * token checked before a reload that revokes it is ended when its session takes its slot (the
 * relay awaits an upstream's address assignment between the two). Real files, tokens from jose.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../src/config.js";
import { parseDenyList } from "../src/identity/deny-list.js";
import { Identity, type IdentityHolder } from "../src/identity/identity.js";
import { silentLogger } from "../src/logger.js";
import { ISSUER, mint, signingKey } from "./issuer.js";

describe("deny list", () => {
  it("parses jti and sub lines, skips comments, and names the first bad line", () => {
    const list = parseDenyList("# revoked\n\njti abc-1\nsub alice\r\n  jti   def  \n");
    expect(list).toEqual({ jti: new Set(["abc-1", "def"]), sub: new Set(["alice"]) });
    expect(parseDenyList("jti a\nkid b\n")).toBe('line 2: expected "jti VALUE" or "sub VALUE"');
    expect(parseDenyList("sub two words\n")).toBe('line 1: expected "jti VALUE" or "sub VALUE"');
    expect(parseDenyList(`jti ${"x".repeat(257)}`)).toMatch(/^line 1:/);
  });

  it("ends a session revoked between its hello and its slot; a bad file keeps the list", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wiregate-deny-"));
    const key = await signingKey("k1");
    const jwksFile = join(dir, "jwks.json");
    const denyFile = join(dir, "deny");
    writeFileSync(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
    writeFileSync(denyFile, "");
    const identity = new Identity(
      { ...DEFAULT_CONFIG.identity, issuer: ISSUER, jwksFile, denyFile, audience: ["relay"] },
      10,
      silentLogger,
    );
    await identity.start();
    try {
      const token = await mint(key, "relay", { jti: "t1", wiregate_upstreams: ["echo"] });
      const checked = await identity.check(token, "echo");
      if ("reason" in checked) throw new Error(checked.message);
      writeFileSync(denyFile, "jti t1\n");
      await identity.reload();
      const ended: string[] = [];
      const holder: IdentityHolder = {
        endForIdentity: (_code, _message, reason) => ended.push(reason),
      };
      identity.hold(holder, checked);
      expect(ended).toEqual(["token-revoked"]);
      expect(identity.sessionsOf("alice")).toBe(0);
      // A file that does not parse: the list in force stays, and says so in the count.
      writeFileSync(denyFile, "jti t1\nnonsense\n");
      await identity.reload();
      // (The file watch may have reloaded too: counts are at least, not exactly.)
      expect(identity.denyReloads.failed).toBeGreaterThanOrEqual(1);
      expect(await identity.check(token, "echo")).toMatchObject({ reason: "token-revoked" });
    } finally {
      identity.stop();
    }
  });
});
