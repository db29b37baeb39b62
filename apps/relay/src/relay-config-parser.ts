/**
 * The relay configuration's one validator: a JSON file's object, or environment variables and
 * flags mapped to the same shape, checked field by field. It never throws; each error names the
 * field and the reason.
 */

import { isIP } from "node:net";
import type { Limits, PartialConfig, UpstreamEntry } from "./config.js";
import { parseIdentityConfig } from "./identity/identity-config.js";

export type RelayConfigParseResult =
  | { ok: true; config: PartialConfig }
  | { ok: false; errors: string[] };

type Check = (value: unknown) => string | undefined;

const isInt =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max
      ? undefined
      : `must be an integer in ${min}..${max}`;
const isString: Check = (v) =>
  typeof v === "string" && v.length > 0 && v.length <= 4096
    ? undefined
    : "must be a non-empty string";
const isHost: Check = (v) =>
  typeof v === "string" && (isIP(v) !== 0 || /^[A-Za-z0-9.-]{1,253}$/.test(v))
    ? undefined
    : "must be an IP address or a host name";
const orNull =
  (check: Check): Check =>
  (v) =>
    v === null ? undefined : check(v);
const isBool: Check = (v) => (typeof v === "boolean" ? undefined : "must be true or false");
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    values.includes(v as string) ? undefined : `must be one of ${values.join(", ")}`;
const isPath: Check = (v) =>
  typeof v === "string" && /^\/[A-Za-z0-9._~/-]{0,200}$/.test(v)
    ? undefined
    : "must be a URL path like /wiregate";

/** A DNS name a public CA can issue for: letters, digits and hyphens in dot-separated labels. */
const isDomain: Check = (v) =>
  typeof v === "string" &&
  v.length <= 253 &&
  isIP(v) === 0 &&
  /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$/.test(v)
    ? undefined
    : "must be a DNS name like relay.example.org";
const isHttpsUrl: Check = (v) => {
  if (typeof v !== "string" || v.length > 2048) return "must be an https:// URL";
  try {
    return new URL(v).protocol === "https:" ? undefined : "must be an https:// URL";
  } catch {
    return "must be an https:// URL";
  }
};
const isEmail: Check = (v) =>
  typeof v === "string" && v.length <= 254 && /^[^\s@:,]+@[^\s@:,]+$/.test(v)
    ? undefined
    : "must be an e-mail address";

/** "*" or exactly what a browser sends as Origin: scheme, host and non-default port. */
function isOrigin(v: unknown): boolean {
  if (v === "*") return true;
  if (typeof v !== "string" || v.length > 300) return false;
  try {
    return new URL(v).origin === v;
  } catch {
    return false;
  }
}

const TOP_LEVEL: Record<string, Check> = {
  host: isHost,
  port: isInt(0, 65535),
  path: isPath,
  opsHost: isHost,
  opsPort: orNull(isInt(0, 65535)),
  opsPublic: isBool,
  localHttpHost: isHost,
  localHttpPort: orNull(isInt(0, 65535)),
  staticDir: orNull(isString),
  fleetFile: orNull(isString),
  browseDomain: orNull(isDomain),
  certFile: orNull(isString),
  tokenFile: orNull(isString),
  keyFile: orNull(isString),
  certDir: isString,
  acmeEmail: orNull(isEmail),
  acmeDirectory: isHttpsUrl,
  acmeCaFile: orNull(isString),
  acmeHttpPort: orNull(isInt(1, 65535)),
  acmeDir: isString,
  capture: orNull(isString),
  captureRotateBytes: isInt(4096, 2 ** 40),
  captureKeepFiles: isInt(1, 1_000_000),
  http3: isBool,
  demo: isBool,
  demoThread: isBool,
  requireOrigin: isBool,
  logLevel: oneOf("debug", "info", "warn", "error"),
};

const LIMITS: Record<keyof Limits, Check> = {
  maxSessions: isInt(1, 1_000_000),
  maxSessionsPerAddress: isInt(1, 1_000_000),
  datagramsPerSecond: isInt(1, 10_000_000),
  bytesPerSecond: isInt(1, 2 ** 40),
  queueLength: isInt(1, 1_000_000),
  idleTimeoutMs: isInt(100, 86_400_000),
  maxDatagramSize: isInt(148, 16_384),
  helloTimeoutMs: isInt(100, 600_000),
  maxPendingSessions: isInt(1, 1_000_000),
  maxPendingPerAddress: isInt(1, 1_000_000),
  clientBufferBytes: isInt(16 * 1024, 2 ** 32),
  upstreamReceiveBufferBytes: isInt(4096, 256 * 1024 * 1024),
  maxConnections: isInt(1, 1_000_000),
  maxConnectionsPerAddress: isInt(1, 1_000_000),
  connectionIdleMs: isInt(100, 86_400_000),
  maxStreamsPerConnection: isInt(1, 10_000),
  memoryMarkBytes: orNull(isInt(1024 * 1024, 2 ** 48)),
};

const UPSTREAM_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function parseUpstream(name: string, value: unknown, errors: string[]): UpstreamEntry | undefined {
  const where = UPSTREAM_NAME.test(name)
    ? `upstreams.${name}`
    : `upstreams.${JSON.stringify(name.slice(0, 64))}`;
  if (!UPSTREAM_NAME.test(name)) {
    errors.push(`${where}: name must be 1-64 characters of A-Z a-z 0-9 . _ -`);
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    errors.push(`${where}: must be an object { host, port, publicKey? }`);
    return undefined;
  }
  const entry = value as Record<string, unknown>;
  const before = errors.length;
  for (const key of Object.keys(entry)) {
    if (!["host", "port", "publicKey"].includes(key))
      errors.push(`${where}.${JSON.stringify(key.slice(0, 40))}: unknown field`);
  }
  const hostError = isHost(entry.host);
  if (hostError) errors.push(`${where}.host: ${hostError}`);
  const portError = isInt(1, 65535)(entry.port);
  if (portError) errors.push(`${where}.port: ${portError}`);
  if (
    entry.publicKey !== undefined &&
    !(typeof entry.publicKey === "string" && WG_KEY.test(entry.publicKey))
  ) {
    errors.push(`${where}.publicKey: must be a base64 WireGuard public key`);
  }
  if (errors.length > before) return undefined;
  const parsed: UpstreamEntry = { name, host: entry.host as string, port: entry.port as number };
  if (entry.publicKey !== undefined) parsed.publicKey = entry.publicKey as string;
  return parsed;
}

/** The list fields: how long they may be, what the whole must be, and each item's check. */
const LISTS: Record<
  string,
  { max: number; shape: string; item: (v: unknown) => string | undefined }
> = {
  tokens: {
    max: 1000,
    shape: "must be an array of strings",
    item: (v) =>
      typeof v !== "string" || v.length < 16 || v.length > 1024
        ? "must be a string of 16-1024 characters"
        : undefined,
  },
  allowedOrigins: {
    max: 100,
    shape: "must be an array of at most 100 origins",
    item: (v) =>
      isOrigin(v) ? undefined : 'must be "*" or an origin like https://app.example:8443 (no path)',
  },
  acmeDomains: {
    max: 100,
    shape: "must be an array of at most 100 DNS names",
    item: isDomain,
  },
};

/** Validates one configuration layer (a parsed JSON file, or env/flags mapped to the same shape). */
export function parseRelayConfig(value: unknown): RelayConfigParseResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, errors: ["configuration must be a JSON object"] };
  }
  const raw = value as Record<string, unknown>;
  const errors: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(raw)) {
    const name = key.slice(0, 64);
    if (Object.hasOwn(TOP_LEVEL, key)) {
      const error = TOP_LEVEL[key]!(field);
      if (error) errors.push(`${name}: ${error}`);
      else config[key] = field;
    } else if (Object.hasOwn(LISTS, key)) {
      const list = LISTS[key]!;
      if (!Array.isArray(field) || field.length > list.max) errors.push(`${key}: ${list.shape}`);
      else {
        field.forEach((item, i) => {
          const error = list.item(item);
          if (error) errors.push(`${key}[${i}]: ${error}`);
        });
        config[key] = field;
      }
    } else if (key === "upstreams") {
      if (typeof field !== "object" || field === null || Array.isArray(field)) {
        errors.push('upstreams: must be an object { "name": { host, port, publicKey? } }');
      } else {
        const entries = Object.entries(field as Record<string, unknown>);
        config.upstreams = entries
          .map(([upstream, entry]) => parseUpstream(upstream, entry, errors))
          .filter((entry) => entry !== undefined);
      }
    } else if (key === "identity") {
      const identity = parseIdentityConfig(field, errors);
      if (identity) config.identity = identity;
    } else if (key === "limits") {
      if (typeof field !== "object" || field === null || Array.isArray(field)) {
        errors.push("limits: must be an object");
        continue;
      }
      const limits: Record<string, unknown> = {};
      for (const [limit, limitValue] of Object.entries(field as Record<string, unknown>)) {
        const check = Object.hasOwn(LIMITS, limit) ? LIMITS[limit as keyof Limits] : undefined;
        if (!check) errors.push(`limits.${JSON.stringify(limit.slice(0, 64))}: unknown limit`);
        else {
          const error = check(limitValue);
          if (error) errors.push(`limits.${limit}: ${error}`);
          else limits[limit] = limitValue;
        }
      }
      config.limits = limits;
    } else {
      errors.push(`${JSON.stringify(name)}: unknown setting`);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: config as PartialConfig };
}
