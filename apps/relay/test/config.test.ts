import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { helpText, loadConfig } from "../src/cli-options.js";
import { DEFAULT_CONFIG, isLoopback, isLoopbackAddress } from "../src/config.js";
import {
  DEV_CERT_VALIDITY_MS,
  ensureDevCertificate,
  generateDevCertificate,
} from "../src/dev-cert.js";
import { parseRelayConfig } from "../src/relay-config-parser.js";

describe("configuration", () => {
  it("accepts a full file and names every bad field", () => {
    const good = parseRelayConfig({
      host: "127.0.0.1",
      port: 4433,
      tokens: ["0123456789abcdef0123"],
      upstreams: { demo: { host: "127.0.0.1", port: 51820, publicKey: `${"A".repeat(43)}=` } },
      limits: { maxSessions: 10, idleTimeoutMs: 1000 },
    });
    expect(good.ok).toBe(true);
    const bad = parseRelayConfig({
      port: 70000,
      tokens: ["short"],
      upstreams: { "bad name": { host: "x", port: 1 }, ok: { host: "127.0.0.1", port: 0 } },
      limits: { maxSessions: -1, nope: 1 },
      colour: "blue",
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors).toEqual(
        expect.arrayContaining([
          "port: must be an integer in 0..65535",
          "tokens[0]: must be a string of 16-1024 characters",
          'upstreams."bad name": name must be 1-64 characters of A-Z a-z 0-9 . _ -',
          "upstreams.ok.port: must be an integer in 1..65535",
          "limits.maxSessions: must be an integer in 1..1000000",
          'limits."nope": unknown limit',
          '"colour": unknown setting',
        ]),
      );
    }
  });

  it("validates the identity settings: issuer and keys, never alg none or HS*, claims, policy", async () => {
    const bad = parseRelayConfig({
      identity: {
        issuer: "",
        jwksUrl: "http://idp.example/jwks",
        algorithms: ["RS256", "none"],
        groupUpstreams: { ops: ["bad name"] },
        leewaySeconds: 3600,
        colour: "blue",
      },
    });
    expect(bad.ok ? [] : bad.errors).toEqual([
      "identity.issuer: must be a non-empty string of at most 2048 characters",
      "identity.jwksUrl: must be an https:// URL (plain http:// only on loopback)",
      expect.stringMatching(/^identity\.algorithms: "none" is not allowed .*never HS\*/),
      'identity.groupUpstreams: "ops": must be an array of at most 100 upstream names (or "*")',
      "identity.leewaySeconds: must be an integer in 0..600",
      'identity."colour": unknown setting',
    ]);
    expect(parseRelayConfig({ identity: { algorithms: ["HS256"] } }).ok).toBe(false);
    const errorsOf = async (argv: string[]) => {
      const result = await loadConfig(argv, {});
      return result.ok ? [] : result.errors;
    };
    expect(await errorsOf(["--jwt-issuer=https://idp.example/"])).toEqual([
      "identity: an issuer needs exactly one of jwksUrl and jwksFile",
    ]);
    expect(await errorsOf(["--no-shared-tokens"])).toEqual([
      "identity.sharedTokens: turning shared tokens off needs an issuer",
    ]);
    // An issuer is enough to listen beyond loopback, but then the audience must be named.
    const issuer = ["--jwt-issuer=https://idp.example/", "--jwks-file=/etc/jwks.json"];
    expect(await errorsOf([...issuer, "--host=0.0.0.0"])).toEqual([
      "identity.audience: required when listening on 0.0.0.0 (the relay's URL is not its public name)",
    ]);
    const loaded = await loadConfig(
      [
        ...issuer,
        "--host=0.0.0.0",
        "--jwt-audience=https://relay.example/wiregate",
        "--no-shared-tokens",
      ],
      { WIREGATE_RELAY_MAX_SESSIONS_PER_USER: "3" },
    );
    expect(loaded.ok && loaded.config.identity).toMatchObject({
      issuer: "https://idp.example/",
      jwksFile: "/etc/jwks.json",
      audience: ["https://relay.example/wiregate"],
      sharedTokens: false,
      maxSessionsPerSubject: 3,
    });
  });

  it("never throws on arbitrary input and always explains a rejection (fuzz)", () => {
    const near = fc.record(
      {
        host: fc.oneof(fc.string(), fc.constant("::1"), fc.anything()),
        port: fc.oneof(fc.integer(), fc.anything()),
        tokens: fc.oneof(fc.array(fc.string()), fc.anything()),
        upstreams: fc.oneof(
          fc.dictionary(
            fc.string(),
            fc.record({ host: fc.anything(), port: fc.anything(), publicKey: fc.anything() }),
          ),
          fc.anything(),
        ),
        limits: fc.oneof(fc.dictionary(fc.string(), fc.anything()), fc.anything()),
        opsPort: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(near, fc.anything(), fc.jsonValue()), (value) => {
        const result = parseRelayConfig(value);
        if (!result.ok) {
          expect(result.errors.length).toBeGreaterThan(0);
          for (const error of result.errors) expect(error).toMatch(/\S: \S|^configuration must be/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("layers file < environment < flags", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wiregate-config-"));
    const file = join(dir, "relay.json");
    writeFileSync(
      file,
      JSON.stringify({
        port: 1111,
        path: "/from-file",
        upstreams: { a: { host: "127.0.0.1", port: 1 } },
      }),
    );
    const result = await loadConfig(
      [`--config=${file}`, "--port=3333", "--upstream=b=[::1]:2", "--rate=7"],
      {
        WIREGATE_RELAY_PORT: "2222",
        WIREGATE_RELAY_PATH: "/from-env",
        WIREGATE_RELAY_TOKENS: "t".repeat(20),
      },
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.port).toBe(3333);
    expect(result.config.path).toBe("/from-env");
    expect(result.config.tokens).toEqual(["t".repeat(20)]);
    expect(result.config.upstreams.map((u) => `${u.name}=${u.host}:${u.port}`)).toEqual([
      "a=127.0.0.1:1",
      "b=::1:2",
    ]);
    expect(result.config.limits.datagramsPerSecond).toBe(7);
    expect(result.config.limits.queueLength).toBe(DEFAULT_CONFIG.limits.queueLength);
  });

  it("refuses open mode away from loopback and bad flags", async () => {
    const open = await loadConfig(["--host=0.0.0.0"], {});
    expect(open).toMatchObject({ ok: false, errors: [expect.stringContaining("open mode")] });
    const bad = await loadConfig(["--port=abc", "--upstream=nonsense"], {});
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors).toEqual(
        expect.arrayContaining([
          expect.stringContaining("NAME=HOST:PORT"),
          "flags: port: must be an integer in 0..65535",
        ]),
      );
    }
    expect((await loadConfig(["--bogus"], {})).ok).toBe(false);
    expect(helpText()).toContain("--max-sessions-per-address");
  });

  it("counts only loopback literals (and localhost) as loopback", () => {
    for (const host of ["127.0.0.1", "127.255.0.9", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"])
      expect(isLoopback(host), host).toBe(true);
    expect(isLoopback("localhost")).toBe(true);
    expect(isLoopbackAddress("localhost")).toBe(false); // a name is not a bound address
    for (const host of [
      "127.0.0.999",
      "127.1",
      "127.0.0.1.example",
      "0.0.0.0",
      "::",
      "::2",
      "1::1",
      "::ffff:10.0.0.1",
      "128.0.0.1",
    ])
      expect(isLoopback(host), host).toBe(false);
  });

  it("accepts a non-loopback ops host only with --ops-public, and bounds --capture-keep-files", async () => {
    const token = `--token=${"t".repeat(20)}`;
    const refused = await loadConfig([token, "--ops-host=10.0.0.1"], {});
    expect(refused).toMatchObject({ ok: false, errors: [expect.stringContaining("--ops-public")] });
    expect((await loadConfig([token, "--ops-host=10.0.0.1", "--ops-port=off"], {})).ok).toBe(true);
    expect((await loadConfig([token, "--ops-host=10.0.0.1", "--ops-public"], {})).ok).toBe(true);
    expect((await loadConfig(["--capture-keep-files=0"], {})).ok).toBe(false);
    const keep = await loadConfig(["--capture-keep-files=3"], {});
    expect(keep.ok && keep.config.captureKeepFiles).toBe(3);
    expect(helpText()).toContain("--ops-public");
  });
});

describe("development certificate", () => {
  it("is well-formed DER every time (serials and keys vary from one certificate to the next)", () => {
    // A non-minimal INTEGER (a leading zero byte) broke about one certificate in 128 before.
    for (let i = 0; i < 300; i++) {
      const material = generateDevCertificate(["localhost"]);
      expect(new X509Certificate(material.certPem).serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
    }
  });

  it("is ECDSA P-256, valid at most 14 days, self-signed, with the hash of its DER", () => {
    const material = generateDevCertificate(["localhost", "127.0.0.1", "::1"]);
    const cert = new X509Certificate(material.certPem);
    expect(cert.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    expect(cert.verify(cert.publicKey)).toBe(true);
    const validity = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
    expect(validity).toBeLessThanOrEqual(14 * 24 * 3600 * 1000);
    expect(validity).toBe(DEV_CERT_VALIDITY_MS);
    expect(cert.subjectAltName).toBe(
      "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    expect(Buffer.from(material.sha256).toString("hex").toUpperCase()).toBe(
      cert.fingerprint256.replaceAll(":", ""),
    );
  });

  it("is kept while valid and regenerated when expired", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wiregate-cert-"));
    const first = await ensureDevCertificate(dir, ["localhost"]);
    const again = await ensureDevCertificate(dir, ["localhost"]);
    expect(first.generated).toBe(true);
    expect(again.generated).toBe(false);
    expect(again.sha256).toEqual(first.sha256);
    const later = new Date(Date.now() + DEV_CERT_VALIDITY_MS);
    const renewed = await ensureDevCertificate(dir, ["localhost"], later);
    expect(renewed.generated).toBe(true);
    expect(renewed.sha256).not.toEqual(first.sha256);
  });
});
