/**
 * Verifies a signed token (JWT) with jose against the configured issuer: signature by one of the
 * issuer's keys (jwks-source.ts), an allowed algorithm, `iss`, `aud`, `exp`/`nbf` within the
 * leeway, and the claims the relay needs (`sub`, `exp`). Every failure is a typed refusal with a
 * reason of its own (the metric label and the audit log's), and the code the client is told.
 */

import type { ErrorCode } from "@wiregate/relay-protocol";
import { errors, type JWTPayload, jwtVerify } from "jose";
import type { IdentityConfig } from "./identity-config.js";
import { type JwksSource, JwksUnavailable } from "./jwks-source.js";

/** Why a token was refused: `reason` for the metric and the log, `code` and `message` for the client. */
export interface TokenRefusal {
  reason: TokenRefusalReason;
  code: ErrorCode;
  message: string;
}

export const TOKEN_REFUSAL_REASONS = [
  "token-expired",
  "token-not-yet-valid",
  "token-issuer",
  "token-audience",
  "token-algorithm",
  "token-unknown-key",
  "token-keys-unavailable",
  "token-signature",
  "token-claims",
  "token-malformed",
] as const;
export type TokenRefusalReason = (typeof TOKEN_REFUSAL_REASONS)[number];

export interface VerifiedToken {
  subject: string;
  jti: string | undefined;
  /** `exp`, in milliseconds since the epoch. */
  expiresAt: number;
  claims: JWTPayload;
}

/** Three base64url parts: what a JWS compact serialization looks like (a shared token does not). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return COMPACT_JWS.test(token);
}

const MAX_ID_LENGTH = 256;

function refusal(
  reason: TokenRefusalReason,
  message: string,
  code: ErrorCode = "unauthorized",
): TokenRefusal {
  return { reason, code, message };
}

/** jose's typed errors, mapped to the relay's refusals. */
function refusalOf(error: unknown): TokenRefusal {
  if (error instanceof errors.JWTExpired)
    return refusal("token-expired", "token expired", "token-expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return refusal("token-not-yet-valid", "token not yet valid");
    if (error.claim === "iss") return refusal("token-issuer", "token from another issuer");
    if (error.claim === "aud") return refusal("token-audience", "token for another audience");
    return refusal("token-claims", `token claim ${error.claim}: ${error.reason}`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return refusal("token-algorithm", "token algorithm not allowed");
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
    return refusal("token-unknown-key", "token signed by a key the issuer does not list");
  if (error instanceof JwksUnavailable) return refusal("token-keys-unavailable", error.message);
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return refusal("token-signature", "token signature does not verify");
  return refusal("token-malformed", "token is not a valid signed token");
}

export class TokenVerifier {
  /** Accepted `aud` values: the configured ones, or the relay's URL once it listens. */
  audience: string[];

  constructor(
    readonly config: IdentityConfig & { issuer: string },
    readonly keys: JwksSource,
  ) {
    this.audience = [...config.audience];
  }

  async verify(token: string): Promise<VerifiedToken | TokenRefusal> {
    if (!looksLikeJwt(token)) return refusal("token-malformed", "token is not a signed token");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.getKey, {
        issuer: this.config.issuer,
        audience: this.audience,
        algorithms: this.config.algorithms,
        clockTolerance: this.config.leewaySeconds,
        requiredClaims: ["sub", "exp"],
      }));
    } catch (error) {
      return refusalOf(error);
    }
    const { sub, jti, exp } = payload;
    if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_ID_LENGTH)
      return refusal("token-claims", `token sub must be a string of 1-${MAX_ID_LENGTH} characters`);
    if (jti !== undefined && (typeof jti !== "string" || jti.length > MAX_ID_LENGTH))
      return refusal(
        "token-claims",
        `token jti must be a string of at most ${MAX_ID_LENGTH} characters`,
      );
    return { subject: sub, jti, expiresAt: (exp as number) * 1000, claims: payload };
  }
}
