/**
 * A signed token that expires during a session (docs/deploy.md, "Identity"): the relay ends the
 * session at the token's `exp` with `token-expired`; the page does not redial with the dead token
 * but asks for a new one, and with it reconnects on the same device, so the tunnel resumes with
 * the same WireGuard keys and no new handshake. In each browser, over HTTP/3 and the WebSocket
 * fallback (a relay each, started once for the file); one page at a time, since Firefox throttles
 * a page in the background.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ISSUER, mint, type SigningKey, signingKey } from "../../relay/test/issuer.js";
import {
  BROWSERS,
  browser,
  newContext,
  open,
  openTab,
  pageUrl,
  ping,
  type Stack,
  startStack,
  type TestBrowser,
  type TestPage,
  watchErrors,
} from "./stack.js";

/**
 * Long enough for a page to connect and ping (asserted: before `exp`), short to keep the file fast;
 * with HTTP/3 off, Firefox tries it for 5 s before WebSocket.
 */
const TOKEN_LIFE_S = { http3: 6, websocket: 12 };

let key: SigningKey;
const stacks: Stack[] = [];

beforeAll(async () => {
  key = await signingKey("web-k1");
  const jwksFile = join(mkdtempSync(join(tmpdir(), "wiregate-web-jwks-")), "jwks.json");
  writeFileSync(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
  const identity = { issuer: ISSUER, jwksFile, sharedTokens: false };
  for (const http3 of [true, false])
    stacks.push(await startStack([], http3, false, {}, { identity }));
}, 60_000);

afterAll(async () => {
  for (const stack of stacks) await stack.close();
});

/** A token for the page's session on `stack`, valid for `lifeS` seconds from now. */
const lifeOf = (stack: Stack) => (stack.http3 ? TOKEN_LIFE_S.http3 : TOKEN_LIFE_S.websocket);

const tokenFor = (stack: Stack, lifeS: number) =>
  mint(key, stack.relay.address.url, {
    sub: "page-user",
    exp: Math.floor(Date.now() / 1000) + lifeS,
    wiregate_upstreams: ["demo"],
  });

/** Connects a page with a token about to expire; resolves with the token's `exp` (ms). */
async function connectBeforeExpiry(page: TestPage, stack: Stack): Promise<number> {
  const token = await tokenFor(stack, lifeOf(stack));
  const exp = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).exp * 1000;
  await open(page, pageUrl(stack.relay.address, { peer: stack.demo.publicKey, token }));
  await page.getByRole("button", { name: "Generate key pair" }).click();
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await expect
    .poll(() => page.getByTestId("badge").textContent(), { timeout: 15_000 })
    .toMatch(/^Connected/);
  await openTab(page, "Status");
  await expect.poll(() => page.getByTestId("handshake").textContent()).toBe("established");
  expect((await ping(page, { destination: "10.99.0.1", count: 2, intervalMs: 50 })).received).toBe(
    2,
  );
  // The session really was open under the token before it expired.
  expect(Date.now()).toBeLessThan(exp);
  return exp;
}

/** The relay's sessions opened since `before` was taken. */
const sessionsSince = (stack: Stack, before: ReadonlySet<unknown>) =>
  [...stack.relay.relay.sessions].filter((session) => !before.has(session));

/**
 * After `exp`: the prompt, a new token, the same keys and device, pings answered. `before`: the
 * relay's sessions before the page connected (an earlier test's closed page may still be ending its).
 */
async function renewAfterExpiry(
  page: TestPage,
  stack: Stack,
  before: ReadonlySet<unknown>,
): Promise<void> {
  await openTab(page, "Connect");
  const refusalsBefore = stack.relay.relay.counters.refusals.get("token-expired") ?? 0;
  const ownKey = await page.getByLabel("Your public key").inputValue();
  // Handshake initiations the relay carried from the page so far: a new device would send one more.
  const initiations = () => stack.relay.relay.counters.messages.to_upstream[0];
  const initiationsBefore = initiations();
  const prompt = page.locator('[aria-labelledby="connect-title"] .message');
  await expect
    .poll(() => prompt.textContent(), { timeout: (lifeOf(stack) + 20) * 1000 })
    .toBe("Token expired: enter a new one and press Connect.");
  expect(await page.getByTestId("badge").textContent()).toBe("Failed");
  // The expired session is gone (the relay closes it 50 ms after its error frame, which the page
  // may show first); a session an earlier test's page left may not be, so only this page's count.
  await expect.poll(() => sessionsSince(stack, before).length).toBe(0);
  // The page did not redial with the dead token: the relay refused no hello for it.
  expect(stack.relay.relay.counters.refusals.get("token-expired") ?? 0).toBe(refusalsBefore);
  await page.getByLabel("Token").fill(await tokenFor(stack, 600));
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await expect
    .poll(() => page.getByTestId("badge").textContent(), { timeout: 15_000 })
    .toMatch(/^Connected/);
  expect(await page.getByLabel("Your public key").inputValue()).toBe(ownKey);
  expect((await ping(page, { destination: "10.99.0.1", count: 3, intervalMs: 50 })).received).toBe(
    3,
  );
  expect(initiations()).toBe(initiationsBefore);
}

describe.each(BROWSERS)("in %s", (name) => {
  let b: TestBrowser;

  beforeAll(async () => {
    b = await browser(name);
  });

  afterAll(async () => {
    await b?.close();
  });

  it.each([
    { carriage: "HTTP/3", i: 0 },
    { carriage: "WebSocket", i: 1 },
  ])(
    "over $carriage: asks for a new token when its token expires mid-session, and resumes with the same keys",
    async ({ i }) => {
      const stack = stacks[i]!;
      const page = await (await newContext(b)).newPage();
      const errors = watchErrors(page);
      try {
        const before = new Set<unknown>(stack.relay.relay.sessions);
        await connectBeforeExpiry(page, stack);
        await renewAfterExpiry(page, stack, before);
        expect(stack.relay.relay.identity!.ended.get("token-expired")).toBeGreaterThanOrEqual(1);
        expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
      } finally {
        await page.context().close();
      }
    },
    60_000,
  );
});
