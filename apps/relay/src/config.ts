/**
 * Relay configuration: defaults, then a JSON file, then environment variables, then flags.
 * Every layer is validated by the same non-throwing parser, which names the field and the reason.
 */

import { isIP, isIPv4, isIPv6 } from "node:net";

export interface UpstreamEntry {
  name: string;
  host: string;
  port: number;
  /** WireGuard public key (base64) of the upstream peer, when known. */
  publicKey?: string;
}

export interface Limits {
  maxSessions: number;
  maxSessionsPerAddress: number;
  /** Per session and direction. */
  datagramsPerSecond: number;
  bytesPerSecond: number;
  /** Datagrams waiting per session and direction before the oldest is dropped. */
  queueLength: number;
  idleTimeoutMs: number;
  /** Largest WireGuard message carried; the session's datagram size is at most this. */
  maxDatagramSize: number;
  /** From the CONNECT to the hello, all steps together. */
  helloTimeoutMs: number;
  /** Sessions that have not said hello yet: their own small budget, in total and per address. */
  maxPendingSessions: number;
  maxPendingPerAddress: number;
  /** Bytes waiting toward one client before further datagrams to it are dropped. */
  clientBufferBytes: number;
  /** TLS connections in total and per address (IPv6 per /64). */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** A connection carrying no WebTransport session or request is closed after this. */
  connectionIdleMs: number;
  /** Concurrent HTTP/2 streams (sessions and requests) on one connection. */
  maxStreamsPerConnection: number;
  /** Above this resident set size (bytes) new sessions are refused until it drops; null: never. */
  memoryMarkBytes: number | null;
}

export interface RelayConfig {
  host: string;
  port: number;
  /** URL path of the WebTransport endpoint. */
  path: string;
  tokens: string[];
  /** A file of tokens, one per line (blank lines and # comments ignored): keeps them out of argv. */
  tokenFile: string | null;
  upstreams: UpstreamEntry[];
  /** Plain-HTTP listener for /metrics and /healthz; port null disables it. */
  opsHost: string;
  opsPort: number | null;
  /** Allow the unauthenticated ops listener on a non-loopback address. */
  opsPublic: boolean;
  /**
   * Plain-HTTP listener for the web page and WebSocket sessions, loopback only (never anywhere
   * else): browsers treat http://127.0.0.1 and http://localhost as secure contexts, so a page
   * served there needs no certificate. Port null disables it.
   */
  localHttpHost: string;
  localHttpPort: number | null;
  staticDir: string | null;
  certFile: string | null;
  keyFile: string | null;
  certDir: string;
  /** Names to get a certificate for from an ACME CA (RFC 8555); empty: no ACME. */
  acmeDomains: string[];
  /** Contact address given to the CA (optional). */
  acmeEmail: string | null;
  /** The CA's ACME directory URL. */
  acmeDirectory: string;
  /** PEM file of CA roots to trust for the directory's HTTPS (e.g. a test CA); null: the system's. */
  acmeCaFile: string | null;
  /** Serve HTTP-01 challenges on this port (80 for a public CA); null: TLS-ALPN-01 on `port`. */
  acmeHttpPort: number | null;
  /** Where the ACME account key and certificates are kept (mode 0600). */
  acmeDir: string;
  capture: string | null;
  captureRotateBytes: number;
  /** Newest capture files kept on disk (older ones of the series are deleted). */
  captureKeepFiles: number;
  http3: boolean;
  /** Start the embedded demo peer and offer it as the upstream "demo". */
  demo: boolean;
  /** Web origins let in besides the relay's own ("*": any); see origin-check.ts. */
  allowedOrigins: string[];
  /** Refuse sessions that carry no Origin header, i.e. every client but a browser. */
  requireOrigin: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
  limits: Limits;
}

/** Let's Encrypt's production ACME directory. */
export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";

export const DEFAULT_CONFIG: RelayConfig = {
  host: "127.0.0.1",
  port: 4433,
  path: "/wiregate",
  tokens: [],
  tokenFile: null,
  upstreams: [],
  opsHost: "127.0.0.1",
  opsPort: 9464,
  opsPublic: false,
  localHttpHost: "127.0.0.1",
  localHttpPort: null,
  staticDir: null,
  certFile: null,
  keyFile: null,
  certDir: ".wiregate/dev-cert",
  acmeDomains: [],
  acmeEmail: null,
  acmeDirectory: LETS_ENCRYPT_DIRECTORY,
  acmeCaFile: null,
  acmeHttpPort: null,
  acmeDir: ".wiregate/acme",
  capture: null,
  captureRotateBytes: 64 * 1024 * 1024,
  captureKeepFiles: 16,
  http3: true,
  demo: true,
  allowedOrigins: [],
  requireOrigin: false,
  logLevel: "info",
  limits: {
    maxSessions: 1000,
    maxSessionsPerAddress: 16,
    datagramsPerSecond: 20_000,
    bytesPerSecond: 20 * 1024 * 1024,
    queueLength: 256,
    idleTimeoutMs: 120_000,
    maxDatagramSize: 1452,
    helloTimeoutMs: 5_000,
    maxPendingSessions: 256,
    maxPendingPerAddress: 8,
    clientBufferBytes: 1024 * 1024,
    maxConnections: 4096,
    maxConnectionsPerAddress: 64,
    connectionIdleMs: 10_000,
    maxStreamsPerConnection: 32,
    memoryMarkBytes: null,
  },
};

export type PartialConfig = Partial<Omit<RelayConfig, "limits">> & { limits?: Partial<Limits> };

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
    } else if (key === "tokens") {
      if (!Array.isArray(field) || field.length > 1000)
        errors.push("tokens: must be an array of strings");
      else {
        field.forEach((token, i) => {
          if (typeof token !== "string" || token.length < 16 || token.length > 1024) {
            errors.push(`tokens[${i}]: must be a string of 16-1024 characters`);
          }
        });
        config.tokens = field;
      }
    } else if (key === "allowedOrigins") {
      if (!Array.isArray(field) || field.length > 100)
        errors.push("allowedOrigins: must be an array of at most 100 origins");
      else {
        field.forEach((origin, i) => {
          if (!isOrigin(origin))
            errors.push(
              `allowedOrigins[${i}]: must be "*" or an origin like https://app.example:8443 (no path)`,
            );
        });
        config.allowedOrigins = field;
      }
    } else if (key === "acmeDomains") {
      if (!Array.isArray(field) || field.length > 100)
        errors.push("acmeDomains: must be an array of at most 100 DNS names");
      else {
        field.forEach((domain, i) => {
          const error = isDomain(domain);
          if (error) errors.push(`acmeDomains[${i}]: ${error}`);
        });
        config.acmeDomains = field;
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

/** Later layers win; upstreams and tokens from several layers are combined (later names win). */
export function mergeConfig(base: RelayConfig, ...layers: PartialConfig[]): RelayConfig {
  let merged: RelayConfig = { ...base, limits: { ...base.limits } };
  for (const layer of layers) {
    const { limits, upstreams, tokens, allowedOrigins, ...rest } = layer;
    merged = { ...merged, ...rest, limits: { ...merged.limits, ...limits } };
    if (tokens) merged.tokens = [...new Set([...merged.tokens, ...tokens])];
    if (allowedOrigins)
      merged.allowedOrigins = [...new Set([...merged.allowedOrigins, ...allowedOrigins])];
    if (upstreams) {
      const byName = new Map(merged.upstreams.map((u) => [u.name, u]));
      for (const upstream of upstreams) byName.set(upstream.name, upstream);
      merged.upstreams = [...byName.values()];
    }
  }
  return merged;
}

/**
 * A loopback address literal, or `localhost`. Anything else (`127.0.0.999` included) would be
 * resolved by DNS, so it is not loopback here; the address actually bound is checked again.
 */
export function isLoopback(host: string): boolean {
  return host === "localhost" || isLoopbackAddress(host);
}

export function isLoopbackAddress(address: string): boolean {
  if (isIPv4(address)) return address.startsWith("127.");
  if (!isIPv6(address)) return false;
  const mapped = /^::ffff:(.+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return isIPv4(mapped) && mapped.startsWith("127.");
  return /^(0{0,4}:){1,7}0{0,3}1$|^::1$/.test(address);
}

/**
 * Checks that need the whole configuration: open mode and plain HTTP only on loopback, certificate
 * pairs.
 */
export function checkFinalConfig(config: RelayConfig): string[] {
  const errors: string[] = [];
  if (config.tokens.length === 0 && !isLoopback(config.host)) {
    errors.push(
      `tokens: required when listening on ${config.host}; open mode is for loopback only`,
    );
  }
  if (config.opsPort !== null && !config.opsPublic && !isLoopback(config.opsHost)) {
    errors.push(
      `opsHost: ${config.opsHost} is not a loopback address; /metrics and /healthz have no authentication (opsPublic / --ops-public to serve them there anyway)`,
    );
  }
  if (config.localHttpPort !== null && !isLoopback(config.localHttpHost)) {
    errors.push(
      `localHttpHost: ${config.localHttpHost} is not a loopback address; plain HTTP is served on loopback only (a browser trusts http:// nowhere else)`,
    );
  }
  if ((config.certFile === null) !== (config.keyFile === null)) {
    errors.push("certFile/keyFile: give both or neither");
  }
  if (config.acmeDomains.length > 0 && config.certFile !== null) {
    errors.push("acmeDomains: the certificate comes from ACME or from certFile/keyFile, not both");
  }
  return errors;
}
