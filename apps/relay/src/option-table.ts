/**
 * Every relay setting that has a flag and an environment variable: its name, the configuration
 * key it sets, how its text is read, and its help line (`--help` is generated from this table).
 */

export type Kind = "string" | "int" | "bool" | "list" | "upstream" | "nullable-int";

export interface OptionSpec {
  flag: string;
  /** Environment variable name after the prefix, when not the flag's. */
  env?: string;
  key: string;
  kind: Kind;
  help: string;
}

export const OPTIONS: OptionSpec[] = [
  {
    flag: "host",
    key: "host",
    kind: "string",
    help: "address to listen on (TLS, TCP; UDP for HTTP/3)",
  },
  { flag: "port", key: "port", kind: "int", help: "port to listen on (0 = any free port)" },
  { flag: "path", key: "path", kind: "string", help: "URL path of the WebTransport endpoint" },
  {
    flag: "token",
    env: "TOKENS",
    key: "tokens",
    kind: "list",
    help: "accepted bearer token (repeatable; env: comma-separated); visible in ps, see --token-file",
  },
  {
    flag: "token-file",
    key: "tokenFile",
    kind: "string",
    help: "file of accepted tokens, one per line (# comments); not visible in ps",
  },
  {
    flag: "upstream",
    env: "UPSTREAMS",
    key: "upstreams",
    kind: "upstream",
    help: "allowed upstream NAME=HOST:PORT[/PUBLICKEY] (repeatable; env: comma-separated)",
  },
  {
    flag: "ops-host",
    key: "opsHost",
    kind: "string",
    help: "address of the plain-HTTP /metrics and /healthz listener (loopback unless --ops-public)",
  },
  {
    flag: "ops-public",
    key: "opsPublic",
    kind: "bool",
    help: "allow --ops-host to be a non-loopback address (the listener has no authentication)",
  },
  {
    flag: "ops-port",
    key: "opsPort",
    kind: "nullable-int",
    help: "port of that listener ('off' disables it)",
  },
  {
    flag: "local-http-port",
    key: "localHttpPort",
    kind: "nullable-int",
    help: "plain-HTTP port for the web page and WebSocket on loopback, no certificate ('off': none)",
  },
  {
    flag: "local-http-host",
    key: "localHttpHost",
    kind: "string",
    help: "loopback address of that listener (anything else is refused)",
  },
  {
    flag: "static",
    key: "staticDir",
    kind: "string",
    help: "directory served as static files (TLS port, and --local-http-port)",
  },
  {
    flag: "browse-domain",
    key: "browseDomain",
    kind: "string",
    help: "Browse origins at https://<label>.DOMAIN/ on the TLS port (the certificate must cover *.DOMAIN)",
  },
  {
    flag: "fleet-file",
    key: "fleetFile",
    kind: "string",
    help: "JSON list of this relay's fleet (name, url, certificateSha256) for the page; SIGHUP reloads",
  },
  {
    flag: "cert",
    key: "certFile",
    kind: "string",
    help: "PEM certificate (default: generated development certificate)",
  },
  { flag: "key", key: "keyFile", kind: "string", help: "PEM private key for --cert" },
  {
    flag: "cert-dir",
    key: "certDir",
    kind: "string",
    help: "where the development certificate is kept",
  },
  {
    flag: "acme-domain",
    env: "ACME_DOMAINS",
    key: "acmeDomains",
    kind: "list",
    help: "get and renew the certificate for this name from an ACME CA (repeatable; env: comma-separated)",
  },
  {
    flag: "acme-email",
    key: "acmeEmail",
    kind: "string",
    help: "contact address for the ACME account",
  },
  {
    flag: "acme-directory",
    key: "acmeDirectory",
    kind: "string",
    help: "ACME directory URL (default: Let's Encrypt production)",
  },
  {
    flag: "acme-ca-file",
    key: "acmeCaFile",
    kind: "string",
    help: "PEM roots trusted for the ACME directory's HTTPS (a test CA)",
  },
  {
    flag: "acme-http-port",
    key: "acmeHttpPort",
    kind: "nullable-int",
    help: "answer HTTP-01 challenges on this port (80); default: TLS-ALPN-01 on --port",
  },
  {
    flag: "acme-dir",
    key: "acmeDir",
    kind: "string",
    help: "where the ACME account key and certificates are kept (mode 0600)",
  },
  {
    flag: "capture",
    key: "capture",
    kind: "string",
    help: "record forwarded WireGuard messages to FILE.pcapng",
  },
  {
    flag: "capture-rotate-bytes",
    key: "captureRotateBytes",
    kind: "int",
    help: "start a new capture file after this size",
  },
  {
    flag: "capture-keep-files",
    key: "captureKeepFiles",
    kind: "int",
    help: "keep only this many newest capture files, deleting older ones",
  },
  {
    flag: "http3",
    key: "http3",
    kind: "bool",
    help: "try HTTP/3 when the quiche add-on is installed (--no-http3 to skip)",
  },
  {
    flag: "demo",
    key: "demo",
    kind: "bool",
    help: "start the embedded demo peer as the upstream 'demo' (--no-demo to skip)",
  },
  {
    flag: "demo-thread",
    key: "demoThread",
    kind: "bool",
    help: "run the demo peer on a worker thread of its own, so its work never delays relaying",
  },
  {
    flag: "jwt-issuer",
    key: "identity.issuer",
    kind: "string",
    help: "accept signed tokens (JWTs) of this issuer (iss); needs --jwks-url or --jwks-file",
  },
  {
    flag: "jwks-url",
    key: "identity.jwksUrl",
    kind: "string",
    help: "the issuer's JWKS URL (cached; refetched for an unknown kid at most once per --jwks-refetch)",
  },
  {
    flag: "jwks-file",
    key: "identity.jwksFile",
    kind: "string",
    help: "the issuer's JWKS as a file (reread on SIGHUP and when it changes)",
  },
  {
    flag: "jwt-audience",
    env: "JWT_AUDIENCES",
    key: "identity.audience",
    kind: "list",
    help: "accepted aud (repeatable; env: comma-separated); default: the relay's URL",
  },
  {
    flag: "jwt-algorithm",
    env: "JWT_ALGORITHMS",
    key: "identity.algorithms",
    kind: "list",
    help: "accepted signature algorithm (repeatable; asymmetric only; default RS256, ES256, EdDSA)",
  },
  {
    flag: "jwt-leeway",
    key: "identity.leewaySeconds",
    kind: "int",
    help: "tolerated clock difference for exp and nbf (seconds)",
  },
  {
    flag: "jwks-refetch",
    key: "identity.jwksRefetchMs",
    kind: "int",
    help: "least time between two JWKS fetches, failed ones included (ms)",
  },
  {
    flag: "jwks-max-age",
    key: "identity.jwksMaxAgeMs",
    kind: "int",
    help: "refresh a JWKS older than this in the background (ms)",
  },
  {
    flag: "jwks-timeout",
    key: "identity.jwksTimeoutMs",
    kind: "int",
    help: "one JWKS fetch, connection to last byte (ms)",
  },
  {
    flag: "jwks-max-bytes",
    key: "identity.jwksMaxBytes",
    kind: "int",
    help: "largest JWKS accepted (bytes)",
  },
  {
    flag: "jwt-upstreams-claim",
    key: "identity.upstreamsClaim",
    kind: "string",
    help: "claim listing the upstreams a token may reach",
  },
  {
    flag: "jwt-groups-claim",
    key: "identity.groupsClaim",
    kind: "string",
    help: "claim listing the token's groups (mapped to upstreams by groupUpstreams in --config)",
  },
  {
    flag: "max-sessions-per-user",
    key: "identity.maxSessionsPerSubject",
    kind: "int",
    help: "open sessions per token subject (sub) on this relay",
  },
  {
    flag: "token-expiry-grace",
    key: "identity.expiryGraceSeconds",
    kind: "int",
    help: "a session ends this long after its token's exp (seconds)",
  },
  {
    flag: "deny-file",
    key: "identity.denyFile",
    kind: "string",
    help: "revoked tokens, lines 'jti VALUE' or 'sub VALUE' (reread on SIGHUP and change)",
  },
  {
    flag: "shared-tokens",
    key: "identity.sharedTokens",
    kind: "bool",
    help: "accept the shared bearer tokens next to signed ones (--no-shared-tokens: signed only)",
  },
  { flag: "log-level", key: "logLevel", kind: "string", help: "debug, info, warn or error" },
  { flag: "max-sessions", key: "limits.maxSessions", kind: "int", help: "sessions in total" },
  {
    flag: "max-sessions-per-address",
    key: "limits.maxSessionsPerAddress",
    kind: "int",
    help: "sessions per client address",
  },
  {
    flag: "rate",
    key: "limits.datagramsPerSecond",
    kind: "int",
    help: "datagrams per second per session and direction",
  },
  {
    flag: "bandwidth",
    key: "limits.bytesPerSecond",
    kind: "int",
    help: "bytes per second per session and direction",
  },
  {
    flag: "queue",
    key: "limits.queueLength",
    kind: "int",
    help: "queued datagrams per session and direction (drop oldest)",
  },
  {
    flag: "idle-timeout",
    key: "limits.idleTimeoutMs",
    kind: "int",
    help: "close a session idle this long (ms)",
  },
  {
    flag: "max-datagram",
    key: "limits.maxDatagramSize",
    kind: "int",
    help: "largest WireGuard message carried (bytes)",
  },
  {
    flag: "hello-timeout",
    key: "limits.helloTimeoutMs",
    kind: "int",
    help: "time from the CONNECT to the hello, all steps together (ms)",
  },
  {
    flag: "max-pending",
    key: "limits.maxPendingSessions",
    kind: "int",
    help: "sessions that have not said hello yet, in total",
  },
  {
    flag: "max-pending-per-address",
    key: "limits.maxPendingPerAddress",
    kind: "int",
    help: "sessions that have not said hello yet, per address",
  },
  {
    flag: "client-buffer",
    key: "limits.clientBufferBytes",
    kind: "int",
    help: "bytes waiting toward one client before dropping (a client that stops reading)",
  },
  {
    flag: "upstream-recv-buffer",
    key: "limits.upstreamReceiveBufferBytes",
    kind: "int",
    help: "receive buffer asked for each session's upstream UDP socket (bytes; capped by net.core.rmem_max)",
  },
  {
    flag: "max-connections",
    key: "limits.maxConnections",
    kind: "int",
    help: "TLS connections in total",
  },
  {
    flag: "max-connections-per-address",
    key: "limits.maxConnectionsPerAddress",
    kind: "int",
    help: "TLS connections per client address (IPv6: per /64)",
  },
  {
    flag: "connection-idle-timeout",
    key: "limits.connectionIdleMs",
    kind: "int",
    help: "close a connection without session or request after this (ms)",
  },
  {
    flag: "max-streams-per-connection",
    key: "limits.maxStreamsPerConnection",
    kind: "int",
    help: "concurrent HTTP/2 streams on one connection",
  },
  {
    flag: "memory-mark",
    key: "limits.memoryMarkBytes",
    kind: "nullable-int",
    help: "refuse new sessions while the process's RSS is above this (bytes; off = never)",
  },
  {
    flag: "allow-origin",
    env: "ALLOWED_ORIGINS",
    key: "allowedOrigins",
    kind: "list",
    help: "web origin let in besides the relay's own, e.g. https://app.example (repeatable; * = any)",
  },
  {
    flag: "require-origin",
    key: "requireOrigin",
    kind: "bool",
    help: "refuse sessions without an Origin header (browsers only; default: let non-browsers in)",
  },
];
