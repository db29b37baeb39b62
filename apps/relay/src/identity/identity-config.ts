/**
 * The relay's identity settings: the issuer whose signed tokens (JWTs) it accepts, where that
 * issuer's keys come from, the claims' policy (upstreams, sessions per subject), revocation, and
 * whether the shared bearer tokens still work. Validated field by field like the rest of the
 * configuration (relay-config-parser.ts calls `parseIdentityConfig` for the `identity` object).
 */

export interface IdentityConfig {
  /** The `iss` every token must carry; null: no signed tokens (bearer tokens only). */
  issuer: string | null;
  /** The issuer's JWKS over HTTPS (cached; see jwks-source.ts). */
  jwksUrl: string | null;
  /** Or a JWKS file (reread on SIGHUP and when it changes). */
  jwksFile: string | null;
  /** Accepted `aud` values; empty: the relay's own URL (https://HOST:PORT/PATH). */
  audience: string[];
  /** Accepted signature algorithms (never `none`, never HS*: the keys are public). */
  algorithms: string[];
  /** Tolerated clock difference for `exp`, `nbf` and `iat`. */
  leewaySeconds: number;
  /** Least time between two fetches of the JWKS URL, failed ones included (unknown `kid`s). */
  jwksRefetchMs: number;
  /** A JWKS older than this is refreshed in the background (the old keys serve meanwhile). */
  jwksMaxAgeMs: number;
  /** One fetch of the JWKS URL, connection to last byte. */
  jwksTimeoutMs: number;
  /** Largest JWKS accepted (URL or file). */
  jwksMaxBytes: number;
  /** Claim listing the upstreams the subject may reach ("*": any). */
  upstreamsClaim: string;
  /** Claim listing the subject's groups, looked up in `groupUpstreams`. */
  groupsClaim: string;
  /** Group name → upstreams its members may reach ("*": any). */
  groupUpstreams: Record<string, string[]>;
  /** Open sessions per `sub` on this relay. */
  maxSessionsPerSubject: number;
  /** A session ends this long after its token's `exp`. */
  expiryGraceSeconds: number;
  /** Revoked `jti`s and `sub`s, one per line (`jti X` / `sub Y`); reread on SIGHUP and change. */
  denyFile: string | null;
  /** Whether the shared bearer tokens (`tokens`) are still accepted next to signed ones. */
  sharedTokens: boolean;
}

/** Asymmetric algorithms only: an HS* key would be the public key, which anyone has. */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

export const DEFAULT_IDENTITY: IdentityConfig = {
  issuer: null,
  jwksUrl: null,
  jwksFile: null,
  audience: [],
  algorithms: ["RS256", "ES256", "EdDSA", "Ed25519"],
  leewaySeconds: 30,
  jwksRefetchMs: 30_000,
  jwksMaxAgeMs: 10 * 60_000,
  jwksTimeoutMs: 5_000,
  jwksMaxBytes: 256 * 1024,
  upstreamsClaim: "wiregate_upstreams",
  groupsClaim: "groups",
  groupUpstreams: {},
  maxSessionsPerSubject: 8,
  expiryGraceSeconds: 0,
  denyFile: null,
  sharedTokens: true,
};

type Check = (value: unknown) => string | undefined;

const int =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max
      ? undefined
      : `must be an integer in ${min}..${max}`;
const text =
  (max: number): Check =>
  (v) =>
    typeof v === "string" && v.length > 0 && v.length <= max
      ? undefined
      : `must be a non-empty string of at most ${max} characters`;
const orNull =
  (check: Check): Check =>
  (v) =>
    v === null ? undefined : check(v);
const bool: Check = (v) => (typeof v === "boolean" ? undefined : "must be true or false");
const claimName: Check = (v) =>
  typeof v === "string" && /^[A-Za-z0-9_:./-]{1,100}$/.test(v)
    ? undefined
    : "must be a claim name (1-100 characters of A-Z a-z 0-9 _ : . / -)";
const httpUrl: Check = (v) => {
  if (typeof v !== "string" || v.length > 2048)
    return "must be an https:// (or loopback http://) URL";
  try {
    const url = new URL(v);
    if (url.protocol === "https:") return undefined;
    const loopback = ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
    return url.protocol === "http:" && loopback
      ? undefined
      : "must be an https:// URL (plain http:// only on loopback)";
  } catch {
    return "must be an https:// (or loopback http://) URL";
  }
};
const UPSTREAM_NAME = /^([A-Za-z0-9._-]{1,64}|\*)$/;
const upstreamList: Check = (v) =>
  Array.isArray(v) &&
  v.length <= 100 &&
  v.every((u) => typeof u === "string" && UPSTREAM_NAME.test(u))
    ? undefined
    : 'must be an array of at most 100 upstream names (or "*")';
const algorithms: Check = (v) => {
  if (!Array.isArray(v) || v.length === 0 || v.length > ASYMMETRIC_ALGORITHMS.length)
    return "must be a non-empty array of algorithms";
  const bad = v.find((a) => !(ASYMMETRIC_ALGORITHMS as readonly unknown[]).includes(a));
  return bad === undefined
    ? undefined
    : `${JSON.stringify(String(bad).slice(0, 20))} is not allowed (only ${ASYMMETRIC_ALGORITHMS.join(", ")}: never none, never HS*)`;
};
const audience: Check = (v) =>
  Array.isArray(v) &&
  v.length <= 20 &&
  v.every((a) => typeof a === "string" && a.length > 0 && a.length <= 2048)
    ? undefined
    : "must be an array of at most 20 non-empty strings";
const groupUpstreams: Check = (v) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "must be an object";
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > 1000) return "must have at most 1000 groups";
  for (const [group, list] of entries) {
    if (group.length === 0 || group.length > 200) return "group names must be 1-200 characters";
    const error = upstreamList(list);
    if (error) return `${JSON.stringify(group.slice(0, 40))}: ${error}`;
  }
  return undefined;
};

const FIELDS: Record<keyof IdentityConfig, Check> = {
  issuer: orNull(text(2048)),
  jwksUrl: orNull(httpUrl),
  jwksFile: orNull(text(4096)),
  audience,
  algorithms,
  leewaySeconds: int(0, 600),
  jwksRefetchMs: int(100, 86_400_000),
  jwksMaxAgeMs: int(1_000, 7 * 86_400_000),
  jwksTimeoutMs: int(100, 60_000),
  jwksMaxBytes: int(1024, 16 * 1024 * 1024),
  upstreamsClaim: claimName,
  groupsClaim: claimName,
  groupUpstreams,
  maxSessionsPerSubject: int(1, 1_000_000),
  expiryGraceSeconds: int(0, 86_400),
  denyFile: orNull(text(4096)),
  sharedTokens: bool,
};

/** Validates the `identity` object of one configuration layer; errors name the field. */
export function parseIdentityConfig(
  value: unknown,
  errors: string[],
): Partial<IdentityConfig> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    errors.push("identity: must be an object");
    return undefined;
  }
  const parsed: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    const check = Object.hasOwn(FIELDS, key) ? FIELDS[key as keyof IdentityConfig] : undefined;
    if (!check) {
      errors.push(`identity.${JSON.stringify(key.slice(0, 64))}: unknown setting`);
      continue;
    }
    const error = check(field);
    if (error) errors.push(`identity.${key}: ${error}`);
    else parsed[key] = field;
  }
  return parsed as Partial<IdentityConfig>;
}

/** Checks across fields, on the merged configuration. */
export function checkIdentityConfig(identity: IdentityConfig, sharedTokens: number): string[] {
  const errors: string[] = [];
  if (identity.issuer !== null && (identity.jwksUrl === null) === (identity.jwksFile === null))
    errors.push("identity: an issuer needs exactly one of jwksUrl and jwksFile");
  if (identity.issuer === null && (identity.jwksUrl !== null || identity.jwksFile !== null))
    errors.push("identity: jwksUrl/jwksFile need an issuer");
  if (identity.issuer === null && !identity.sharedTokens)
    errors.push("identity.sharedTokens: turning shared tokens off needs an issuer");
  if (identity.issuer !== null && !identity.sharedTokens && sharedTokens > 0)
    errors.push("identity.sharedTokens: off, but tokens are configured (remove them)");
  return errors;
}
