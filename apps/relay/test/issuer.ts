/**
 * A token issuer for tests: signing keys, a JWKS served over real HTTP on loopback (which can be
 * made slow, huge or down, and counts its fetches), and tokens minted with jose.
 */

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";

export const ISSUER = "https://idp.test/";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return {
    kid,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" },
  };
}

/** How the JWKS endpoint answers. */
export type JwksMode = "ok" | "slow" | "huge" | "down";

export interface JwksServer {
  url: string;
  /** Keys served in "ok" mode. */
  keys: JWK[];
  mode: JwksMode;
  /** Requests received, and when the last one came (performance.now()). */
  fetches: number;
  lastFetchAt: number;
  /** Bytes the "huge" mode managed to send before the client hung up. */
  hugeBytesSent: number;
  close(): Promise<void>;
}

/** Size of the "huge" answer: far over any sane JWKS limit. */
export const HUGE_JWKS_BYTES = 64 * 1024 * 1024;

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const pending = new Set<() => void>();
  const server: Server = createServer((request, response) => {
    state.fetches++;
    state.lastFetchAt = performance.now();
    switch (state.mode) {
      case "ok":
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ keys: state.keys }));
        return;
      case "down":
        response.statusCode = 503;
        response.end("down");
        return;
      case "slow": {
        // Answers only when the test ends: the relay's timeout must cut it short.
        const finish = () => response.destroy();
        pending.add(finish);
        request.on("close", () => pending.delete(finish));
        return;
      }
      case "huge": {
        response.setHeader("content-type", "application/json");
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < HUGE_JWKS_BYTES) {
            sent += chunk.length;
            state.hugeBytesSent = sent;
            if (!response.write(chunk)) return void response.once("drain", pump);
          }
          response.end();
        };
        response.write('{"keys":[');
        response.on("error", () => {});
        pump();
        return;
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const state: JwksServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    keys,
    mode: "ok",
    fetches: 0,
    lastFetchAt: 0,
    hugeBytesSent: 0,
    close: async () => {
      for (const finish of pending) finish();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return state;
}

/** A token signed by `key`, valid for a minute by default; `claims` override or add. */
export function mint(
  key: SigningKey,
  audience: string,
  claims: JWTPayload = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: ISSUER,
    aud: audience,
    sub: "alice",
    iat: now,
    exp: now + 60,
    ...claims,
  })
    .setProtectedHeader({ alg: "RS256", kid: key.kid, ...header })
    .sign(key.privateKey);
}
