/**
 * Signed tokens against the relay as its own process: one relay, its issuer's JWKS served over
 * real HTTP by the test (made slow, huge or down at will), tokens minted with jose. Every refusal
 * has its reason in `wiregate_relay_refusals_total`; policy from claims (upstreams, groups, the
 * per-user cap); a session ends at its token's `exp` and when a reloaded deny list revokes it.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RelayConnection } from "@wiregate/relay-protocol";
import { base64url, type CryptoKey, exportSPKI, importJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connect,
  type Echo,
  metricsText,
  roundTrip,
  sample,
  startEcho,
  TOKEN,
  TRANSPORTS,
  waitFor,
} from "./helpers.js";
import {
  HUGE_JWKS_BYTES,
  ISSUER,
  type JwksServer,
  mint,
  type SigningKey,
  signingKey,
  startJwksServer,
} from "./issuer.js";
import { lineMatching, MiB, type RelayProcess, spawnRelay } from "./relay-process.js";

const REFETCH_MS = 300;
const dir = mkdtempSync(join(tmpdir(), "wiregate-identity-"));
const denyFile = join(dir, "deny");
let echo: Echo;
let kernel: Echo;
let jwks: JwksServer;
let key: SigningKey;
let relay: RelayProcess;
let audience: string;

beforeAll(async () => {
  [echo, kernel, key] = await Promise.all([startEcho(), startEcho(), signingKey("k1")]);
  jwks = await startJwksServer([key.publicJwk]);
  writeFileSync(denyFile, "# revoked tokens\n");
  const config = join(dir, "relay.json");
  writeFileSync(
    config,
    JSON.stringify({ identity: { groupUpstreams: { ops: ["*"], staff: ["echo"] } } }),
  );
  relay = await spawnRelay([
    `--config=${config}`,
    `--upstream=echo=127.0.0.1:${echo.port}`,
    `--upstream=kernel=127.0.0.1:${kernel.port}`,
    `--jwt-issuer=${ISSUER}`,
    `--jwks-url=${jwks.url}`,
    `--jwks-refetch=${REFETCH_MS}`,
    "--jwks-timeout=500",
    "--jwks-max-bytes=65536",
    "--max-sessions-per-user=2",
    `--deny-file=${denyFile}`,
    // The attack below opens ~100 sessions from this one address: it is about JWKS fetches, not
    // the per-address connection cap (attacks.test.ts), which a loaded machine's slow closes hit.
    "--max-connections-per-address=1024",
  ]);
  audience = relay.address.url;
}, 30_000);

afterAll(async () => {
  relay?.stop();
  await Promise.all([echo?.close(), kernel?.close(), jwks?.close()]);
});

const refusals = async (reason: string) =>
  sample(await metricsText(relay.address), `wiregate_relay_refusals_total{code="${reason}"}`);
const metric = async (series: string) => sample(await metricsText(relay.address), series);

/** Opens a session with `token` to `upstream` and checks one round trip through it. */
async function open(
  token: string,
  upstream = "echo",
  transport: (typeof TRANSPORTS)[number] = "http2",
) {
  const conn = await connect(relay.address, { token, upstream, transport });
  await roundTrip(conn, conn.datagrams[Symbol.asyncIterator](), 1);
  return conn;
}

/** The refusal `token` gets: the client's code, and the relay's reason counted once more. */
async function expectRefused(token: string, code: string, reason: string, upstream = "echo") {
  const before = await refusals(reason);
  await expect(connect(relay.address, { token, upstream })).rejects.toMatchObject({ code });
  await waitFor(async () => (await refusals(reason)) === before + 1, 10_000);
}

/** The next fetch of the JWKS may happen: the refetch interval has passed since the last one. */
async function refetchAllowed(): Promise<void> {
  await waitFor(() => performance.now() - jwks.lastFetchAt > REFETCH_MS + 50, 10_000);
}

describe("signed tokens", () => {
  it("admits a valid token on both transports, and the shared token still works", async () => {
    for (const transport of TRANSPORTS) {
      const conn = await open(
        await mint(key, audience, { wiregate_upstreams: ["echo"] }),
        "echo",
        transport,
      );
      conn.close();
    }
    (await open(TOKEN)).close();
    expect(await metric('wiregate_relay_token_sessions_total{policy="claim"}')).toBe(2);
  });

  it("refuses each bad token with its own reason", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      await mint(key, audience, { exp: now - 600 }),
      "token-expired",
      "token-expired",
    );
    // Past its exp but within the leeway: it verifies, yet its session would end at once.
    await expectRefused(
      await mint(key, audience, { exp: now - 5 }),
      "token-expired",
      "token-expired",
    );
    await expectRefused(
      await mint(key, audience, { nbf: now + 600 }),
      "unauthorized",
      "token-not-yet-valid",
    );
    await expectRefused(
      await mint(key, "https://other.relay/wiregate"),
      "unauthorized",
      "token-audience",
    );
    await expectRefused(
      await mint(key, audience, { iss: "https://evil.test/" }),
      "unauthorized",
      "token-issuer",
    );
    await expectRefused(
      await mint(key, audience, { sub: undefined }),
      "unauthorized",
      "token-claims",
    );
    // alg "none": an unsigned token that claims everything.
    const unsigned = [
      base64url.encode(JSON.stringify({ alg: "none", kid: "k1" })),
      base64url.encode(
        JSON.stringify({
          iss: ISSUER,
          aud: audience,
          sub: "alice",
          exp: now + 60,
          wiregate_upstreams: ["*"],
        }),
      ),
      "",
    ].join(".");
    await expectRefused(unsigned, "unauthorized", "token-algorithm");
    // HS256 keyed with the issuer's public key, which anyone can read from the JWKS.
    const publicPem = await exportSPKI(
      (await importJWK(key.publicJwk, "RS256", { extractable: true })) as CryptoKey,
    );
    const confused = await new SignJWT({ iss: ISSUER, aud: audience, sub: "alice", exp: now + 60 })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .sign(new TextEncoder().encode(publicPem));
    await expectRefused(confused, "unauthorized", "token-algorithm");
    // A real token with its signature from another key under the same kid.
    const impostor = await signingKey("k1");
    await expectRefused(await mint(impostor, audience), "unauthorized", "token-signature");
    await expectRefused("not.a.token", "unauthorized", "token-malformed");
  });

  it("refetches the JWKS once for an unknown kid, then refuses; a rotated-in key is found", async () => {
    await refetchAllowed();
    const before = jwks.fetches;
    const stranger = await signingKey("k-unknown");
    await expectRefused(await mint(stranger, audience), "unauthorized", "token-unknown-key");
    expect(jwks.fetches).toBe(before + 1);
    // Within the interval the same kid costs no fetch.
    await expectRefused(await mint(stranger, audience), "unauthorized", "token-unknown-key");
    expect(jwks.fetches).toBe(before + 1);
    // The issuer rotates in a new key: its first token brings it in with one fetch.
    const rotated = await signingKey("k2");
    jwks.keys = [key.publicJwk, rotated.publicJwk];
    await refetchAllowed();
    (await open(await mint(rotated, audience, { wiregate_upstreams: ["echo"] }))).close();
    expect(jwks.fetches).toBe(before + 2);
  });

  it("refuses a new kid while the JWKS is slow, huge or down, and keeps serving the known keys", async () => {
    const rssBefore = relay.rss();
    for (const mode of ["slow", "huge", "down"] as const) {
      jwks.mode = mode;
      await refetchAllowed();
      const before = jwks.fetches;
      const newcomer = await signingKey(`k-${mode}`);
      await expectRefused(await mint(newcomer, audience), "unauthorized", "token-keys-unavailable");
      expect(jwks.fetches).toBe(before + 1);
      (await open(await mint(key, audience, { wiregate_upstreams: ["echo"] }))).close();
    }
    // The relay stopped reading the huge answer at its limit.
    expect(jwks.hugeBytesSent).toBeLessThan(HUGE_JWKS_BYTES);
    expect(relay.rss() - rssBefore).toBeLessThan(48 * MiB);
    expect(await metric('wiregate_relay_jwks_loads_total{result="failed"}')).toBe(3);
    jwks.mode = "ok";
  });

  it("attack: many distinct bad tokens and kids cost a bounded number of JWKS fetches and no memory", async () => {
    const rssBefore = relay.rss();
    const fetchesBefore = jwks.fetches;
    const started = performance.now();
    const attackers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => signingKey(`attacker-${i}`)),
    );
    const count = 96;
    const before = await refusals("token-unknown-key");
    // In waves within the pending-sessions budget per address (8), which would refuse the rest.
    for (let i = 0; i < count; i += 8)
      await Promise.all(
        Array.from({ length: 8 }, async (_, j) => {
          const token = await mint(
            attackers[(i + j) % 4]!,
            audience,
            { jti: `a-${i + j}` },
            { kid: `kid-${i + j}` },
          );
          await expect(connect(relay.address, { token })).rejects.toMatchObject({
            code: "unauthorized",
          });
        }),
      );
    await waitFor(async () => (await refusals("token-unknown-key")) === before + count, 20_000);
    const elapsed = performance.now() - started;
    // At most one fetch per refetch interval, however many kids came.
    expect(jwks.fetches - fetchesBefore).toBeLessThanOrEqual(Math.ceil(elapsed / REFETCH_MS) + 1);
    expect(relay.rss() - rssBefore).toBeLessThan(48 * MiB);
  }, 60_000);
});

describe("signed tokens only", () => {
  it("with --no-shared-tokens refuses the shared token (token-missing) and admits a signed one", async () => {
    const strict = await spawnRelay(
      [
        `--upstream=echo=127.0.0.1:${echo.port}`,
        `--jwt-issuer=${ISSUER}`,
        `--jwks-url=${jwks.url}`,
        "--no-shared-tokens",
      ],
      {},
    );
    try {
      await expect(connect(strict.address, { token: TOKEN })).rejects.toMatchObject({
        code: "unauthorized",
      });
      await waitFor(
        async () =>
          sample(
            await metricsText(strict.address),
            'wiregate_relay_refusals_total{code="token-missing"}',
          ) === 1,
        10_000,
      );
      const signed = await mint(key, strict.address.url, { wiregate_upstreams: ["echo"] });
      const conn = await connect(strict.address, { token: signed });
      await roundTrip(conn, conn.datagrams[Symbol.asyncIterator](), 1);
      conn.close();
    } finally {
      strict.stop();
    }
  });
});

describe("policy from claims", () => {
  it("a user allowed only echo cannot open kernel; a group mapped to every upstream can", async () => {
    const onlyEcho = await mint(key, audience, { sub: "bob", wiregate_upstreams: ["echo"] });
    (await open(onlyEcho)).close();
    await expectRefused(onlyEcho, "forbidden", "token-upstream", "kernel");
    await expectRefused(await mint(key, audience, { sub: "bob" }), "forbidden", "token-upstream");
    const staff = await mint(key, audience, { sub: "bob", groups: ["staff"] });
    await expectRefused(staff, "forbidden", "token-upstream", "kernel");
    (await open(await mint(key, audience, { sub: "bob", groups: ["ops"] }), "kernel")).close();
    expect(await metric('wiregate_relay_token_sessions_total{policy="ops"}')).toBe(1);
    const opened = JSON.parse(
      await lineMatching(
        relay.lines,
        (l) => l.includes('"session open"') && l.includes('"upstream":"kernel"'),
      ),
    );
    expect(opened).toMatchObject({ subject: "bob", policy: "ops" });
    // The subject is in the audit log, never in a metric label.
    expect(await metricsText(relay.address)).not.toContain("bob");
  });

  it("holds the per-user session cap, and frees a slot when a session closes", async () => {
    const token = await mint(key, audience, { sub: "carol", wiregate_upstreams: ["echo"] });
    const first = await open(token);
    const second = await open(token);
    await expectRefused(token, "limit", "subject-limit");
    // Another user is not held back by carol's cap.
    (await open(await mint(key, audience, { sub: "erin", wiregate_upstreams: ["echo"] }))).close();
    first.close();
    await waitFor(async () => {
      try {
        (await open(token)).close();
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    second.close();
  });
});

describe("sessions end with their token", () => {
  /** Resolves with the error frame that ended `conn`. */
  const endOf = async (conn: RelayConnection) => (await conn.closed).error;

  it("ends a session at its token's exp with token-expired (both transports)", async () => {
    for (const transport of TRANSPORTS) {
      const exp = Math.floor(Date.now() / 1000) + 2;
      const conn = await open(
        await mint(key, audience, { sub: "dave", exp, wiregate_upstreams: ["echo"] }),
        "echo",
        transport,
      );
      expect(await endOf(conn)).toMatchObject({ code: "token-expired" });
      expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    }
    expect(await metric('wiregate_relay_token_session_ends_total{reason="token-expired"}')).toBe(2);
  }, 30_000);

  it("a revoked jti is refused after SIGHUP and its open session ends; a revoked sub on file change", async () => {
    const token = await mint(key, audience, {
      sub: "frank",
      jti: "t-frank-1",
      wiregate_upstreams: ["echo"],
    });
    const conn = await open(token);
    const other = await open(
      await mint(key, audience, { sub: "grace", jti: "t-grace-1", wiregate_upstreams: ["echo"] }),
    );
    writeFileSync(denyFile, "# revoked tokens\njti t-frank-1\n");
    const fetches = jwks.fetches;
    relay.child.kill("SIGHUP");
    await lineMatching(
      relay.lines,
      (l) => l.includes('"deny list loaded"') && l.includes('"endedSessions":1'),
    );
    // SIGHUP fetched the issuer's keys too, before the list (whatever the refetch interval).
    expect(jwks.fetches).toBe(fetches + 1);
    expect(await endOf(conn)).toMatchObject({ code: "unauthorized", message: "token revoked" });
    await expectRefused(token, "unauthorized", "token-revoked");
    // Grace's session was not touched: it still relays.
    await roundTrip(other, other.datagrams[Symbol.asyncIterator](), 2);
    // A change to the file alone (no signal) is picked up too.
    writeFileSync(denyFile, "# revoked tokens\njti t-frank-1\nsub grace\n");
    expect(await endOf(other)).toMatchObject({ code: "unauthorized", message: "token revoked" });
    expect(await metric('wiregate_relay_token_session_ends_total{reason="token-revoked"}')).toBe(2);
  }, 30_000);
});
