/**
 * Relay configuration: defaults, then a JSON file, then environment variables, then flags.
 * Every layer is validated by the same non-throwing parser, which names the field and the reason.
 */

import { isIPv4, isIPv6 } from "node:net";
import {
  checkIdentityConfig,
  DEFAULT_IDENTITY,
  type IdentityConfig,
} from "./identity/identity-config.js";

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
  /**
   * Receive buffer asked for each session's upstream UDP socket: what an upstream's burst may
   * queue in the kernel while the relay's event loop is busy. The kernel doubles the request for
   * its bookkeeping and caps it at net.core.rmem_max; it holds the bytes only while they wait.
   */
  upstreamReceiveBufferBytes: number;
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
  /**
   * A public relay's Browse domain (e.g. browse.relay.example.org): the Browse screen shows each
   * web server inside a tunnel on `https://<label>.<domain>/`, which the TLS port answers with the
   * Browse bridge only. Its certificate must cover `*.<domain>` (docs/deploy.md, "Browse").
   */
  browseDomain: string | null;
  /**
   * A JSON file naming the relays of this relay's fleet (docs/deploy.md, "Many relays"), served to
   * the page in `wiregate.json` as `relays`; read at start and on SIGHUP.
   */
  fleetFile: string | null;
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
  /**
   * Run the demo peer on a worker thread of its own instead of the relay's: its work then never
   * delays relaying for other clients, at a cost in tunnel throughput (docs/performance.md).
   */
  demoThread: boolean;
  /** Web origins let in besides the relay's own ("*": any); see origin-check.ts. */
  allowedOrigins: string[];
  /** Refuse sessions that carry no Origin header, i.e. every client but a browser. */
  requireOrigin: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
  limits: Limits;
  /** Signed tokens (JWTs) and per-user policy (identity/identity-config.ts). */
  identity: IdentityConfig;
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
  browseDomain: null,
  fleetFile: null,
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
  demoThread: false,
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
    upstreamReceiveBufferBytes: 1024 * 1024,
    maxConnections: 4096,
    maxConnectionsPerAddress: 64,
    connectionIdleMs: 10_000,
    maxStreamsPerConnection: 32,
    memoryMarkBytes: null,
  },
  identity: DEFAULT_IDENTITY,
};

export type PartialConfig = Partial<Omit<RelayConfig, "limits" | "identity">> & {
  limits?: Partial<Limits>;
  identity?: Partial<IdentityConfig>;
};

/** Later layers win; upstreams and tokens from several layers are combined (later names win). */
export function mergeConfig(base: RelayConfig, ...layers: PartialConfig[]): RelayConfig {
  let merged: RelayConfig = { ...base, limits: { ...base.limits }, identity: { ...base.identity } };
  for (const layer of layers) {
    const { limits, identity, upstreams, tokens, allowedOrigins, ...rest } = layer;
    merged = {
      ...merged,
      ...rest,
      limits: { ...merged.limits, ...limits },
      identity: { ...merged.identity, ...identity },
    };
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
  if (config.tokens.length === 0 && config.identity.issuer === null && !isLoopback(config.host)) {
    errors.push(
      `tokens: required when listening on ${config.host} (or identity.issuer); open mode is for loopback only`,
    );
  }
  errors.push(...checkIdentityConfig(config.identity, config.tokens.length));
  if (
    config.identity.issuer !== null &&
    config.identity.audience.length === 0 &&
    ["0.0.0.0", "::"].includes(config.host)
  ) {
    errors.push(
      `identity.audience: required when listening on ${config.host} (the relay's URL is not its public name)`,
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
  if (config.browseDomain !== null && config.acmeDomains.length > 0) {
    errors.push(
      `browseDomain: Browse origins need a wildcard certificate for *.${config.browseDomain}, which ACME issues only by DNS-01 (the relay answers TLS-ALPN-01 and HTTP-01): get it with your DNS provider's DNS-01 client and give it with certFile/keyFile`,
    );
  }
  if (config.acmeDomains.length > 0 && config.certFile !== null) {
    errors.push("acmeDomains: the certificate comes from ACME or from certFile/keyFile, not both");
  }
  return errors;
}
