/**
 * A public relay's Browse domain (docs/deploy.md, "Browse"): the setting and what is refused with
 * it, which hosts are Browse hosts, and the origin check refusing every origin under the domain.
 * The TLS port serving it to a browser: apps/web/test/browse-public.test.ts.
 */
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { browseLabel, inBrowseDomain, isBrowseOrigin } from "../src/browse-origin.js";
import { helpText, loadConfig } from "../src/cli-options.js";
import { ensureDevCertificate } from "../src/dev-cert.js";
import { originRefusal } from "../src/origin-check.js";
import { contentSecurityPolicy } from "../src/static-files.js";

const TOKEN = "--token=0123456789abcdef0123";
const DOMAIN = "browse.relay.example.org";

describe("Browse domain", () => {
  it("is a flag and a file setting, a DNS name, and refused with ACME (wildcards need DNS-01)", async () => {
    const none = await loadConfig([TOKEN], {});
    expect(none.ok && none.config.browseDomain).toBe(null);
    const set = await loadConfig([TOKEN, `--browse-domain=${DOMAIN}`], {});
    expect(set.ok && set.config.browseDomain).toBe(DOMAIN);
    expect(helpText()).toContain("--browse-domain VALUE");
    const bad = await loadConfig([TOKEN, "--browse-domain=not a name"], {});
    expect(!bad.ok && bad.errors.join()).toMatch(/browseDomain: must be a DNS name/);
    const acme = await loadConfig(
      [TOKEN, `--browse-domain=${DOMAIN}`, "--acme-domain=relay.example.org"],
      {},
    );
    expect(!acme.ok && acme.errors.join()).toMatch(
      /browseDomain: Browse origins need a wildcard certificate for \*\.browse\.relay\.example\.org, which ACME issues only by DNS-01/,
    );
  });

  it("takes target labels under the domain as Browse hosts, and any name under it as its", () => {
    expect(browseLabel(`v4-80-10-0-0-5.${DOMAIN}`, [DOMAIN])).toBe("v4-80-10-0-0-5");
    expect(browseLabel(`V4-80-10-0-0-5.${DOMAIN.toUpperCase()}.`, [DOMAIN])).toBe("v4-80-10-0-0-5");
    expect(browseLabel(`v4-80-10-0-0-5.${DOMAIN}`)).toBeUndefined();
    expect(browseLabel(`evil.${DOMAIN}`, [DOMAIN])).toBeUndefined();
    expect(browseLabel(`v4-80-10-0-0-5.evil.${DOMAIN}`, [DOMAIN])).toBeUndefined();
    expect(browseLabel("v4-80-10-0-0-5.relay.example.org", [DOMAIN])).toBeUndefined();
    // The loopback listener's names stay as they were.
    expect(browseLabel("v4-80-10-0-0-5.wiregate.localhost")).toBe("v4-80-10-0-0-5");
    expect(browseLabel("v4-80-10-0-0-5.localhost")).toBe("v4-80-10-0-0-5");
    expect(inBrowseDomain(`evil.${DOMAIN}`, [DOMAIN])).toBe(true);
    expect(inBrowseDomain(DOMAIN, [DOMAIN])).toBe(false);
    expect(inBrowseDomain(`x.not${DOMAIN}`, [DOMAIN])).toBe(false);
    expect(isBrowseOrigin(`https://evil.${DOMAIN}`, [DOMAIN])).toBe(true);
    expect(isBrowseOrigin("https://relay.example.org", [DOMAIN])).toBe(false);
  });

  it("opens no session for an origin under the domain, not even with every origin allowed", () => {
    const policy = { allowedOrigins: ["*"], requireOrigin: true, browseDomains: [DOMAIN] };
    for (const origin of [`https://v4-80-10-0-0-5.${DOMAIN}`, `https://anything.${DOMAIN}:8443`])
      expect(originRefusal({ origin }, policy)).toMatch(/is a Browse origin/);
    expect(originRefusal({ origin: "https://relay.example.org" }, policy)).toBeUndefined();
  });

  it("lets the page frame the domain's origins, and only those besides localhost's", () => {
    expect(contentSecurityPolicy([DOMAIN])).toContain(
      `frame-src 'self' http://*.localhost:* https://*.${DOMAIN}:*;`,
    );
    expect(contentSecurityPolicy()).toContain("frame-src 'self' http://*.localhost:*;");
  });

  it("gets a development certificate that covers the domain's hosts, even where one was kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wiregate-browse-domain-"));
    try {
      const before = await ensureDevCertificate(dir, ["localhost"]);
      const after = await ensureDevCertificate(dir, ["localhost", `*.${DOMAIN}`]);
      expect(new X509Certificate(before.certPem).checkHost(`x.${DOMAIN}`)).toBeUndefined();
      expect(new X509Certificate(after.certPem).checkHost(`v4-80-10-0-0-5.${DOMAIN}`)).toBe(
        `*.${DOMAIN}`,
      );
      // Kept from then on.
      expect((await ensureDevCertificate(dir, ["localhost", `*.${DOMAIN}`])).sha256).toEqual(
        after.sha256,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
