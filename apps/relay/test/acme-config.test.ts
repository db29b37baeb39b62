/** ACME settings from the configuration file, the environment and flags, and what is refused. */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { helpText, loadConfig } from "../src/cli-options.js";
import { LETS_ENCRYPT_DIRECTORY } from "../src/config.js";
import { parseRelayConfig } from "../src/relay-config-parser.js";

const TOKEN = "--token=0123456789abcdef0123";

describe("ACME configuration", () => {
  it("defaults to no ACME, and to Let's Encrypt's production directory when asked", async () => {
    const none = await loadConfig([TOKEN], {});
    expect(none.ok && none.config.acmeDomains).toEqual([]);
    const flags = await loadConfig(
      [TOKEN, "--acme-domain=relay.example.org", "--acme-email=ops@example.org"],
      {},
    );
    expect(flags.ok).toBe(true);
    if (!flags.ok) return;
    expect(flags.config).toMatchObject({
      acmeDomains: ["relay.example.org"],
      acmeEmail: "ops@example.org",
      acmeDirectory: LETS_ENCRYPT_DIRECTORY,
      acmeHttpPort: null,
    });
    expect(helpText()).toContain("--acme-domain VALUE");
  });

  it("reads the file, then the environment, then flags", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wiregate-acme-config-"));
    const file = join(dir, "relay.json");
    writeFileSync(
      file,
      JSON.stringify({
        acmeDomains: ["file.example.org"],
        acmeDirectory: "https://ca.example/dir",
        acmeDir: "/var/lib/wiregate/acme",
        acmeHttpPort: 80,
      }),
    );
    const loaded = await loadConfig([TOKEN, `--config=${file}`, "--acme-ca-file=/etc/ca.pem"], {
      WIREGATE_RELAY_ACME_DOMAINS: "a.example.org,b.example.org",
      WIREGATE_RELAY_ACME_EMAIL: "env@example.org",
    });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.config).toMatchObject({
      acmeDomains: ["a.example.org", "b.example.org"],
      acmeEmail: "env@example.org",
      acmeDirectory: "https://ca.example/dir",
      acmeCaFile: "/etc/ca.pem",
      acmeDir: "/var/lib/wiregate/acme",
      acmeHttpPort: 80,
    });
  });

  it("names each bad value", () => {
    const bad = parseRelayConfig({
      acmeDomains: ["ok.example.org", "-bad.example", "192.0.2.1", "a..b", 7],
      acmeEmail: "not an address",
      acmeDirectory: "http://plain.example/dir",
      acmeHttpPort: 0,
    });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors).toEqual([
      "acmeDomains[1]: must be a DNS name like relay.example.org",
      "acmeDomains[2]: must be a DNS name like relay.example.org",
      "acmeDomains[3]: must be a DNS name like relay.example.org",
      "acmeDomains[4]: must be a DNS name like relay.example.org",
      "acmeEmail: must be an e-mail address",
      "acmeDirectory: must be an https:// URL",
      "acmeHttpPort: must be an integer in 1..65535",
    ]);
  });

  it("refuses ACME together with --cert/--key", async () => {
    const both = await loadConfig(
      [TOKEN, "--acme-domain=relay.example.org", "--cert=c.pem", "--key=k.pem"],
      {},
    );
    expect(both.ok).toBe(false);
    expect(!both.ok && both.errors.join()).toMatch(/ACME or from certFile\/keyFile, not both/);
  });
});
