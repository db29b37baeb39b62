/**
 * Command-line flags and environment variables, mapped onto the configuration file's shape so one
 * parser validates all three. `--help` is generated from the same table.
 */

import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  checkFinalConfig,
  DEFAULT_CONFIG,
  mergeConfig,
  type PartialConfig,
  parseRelayConfig,
  type RelayConfig,
} from "./config.js";

type Kind = "string" | "int" | "bool" | "list" | "upstream" | "nullable-int";

interface OptionSpec {
  flag: string;
  /** Environment variable name after the prefix, when not the flag's. */
  env?: string;
  key: string;
  kind: Kind;
  help: string;
}

const OPTIONS: OptionSpec[] = [
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

export const ENV_PREFIX = "WIREGATE_RELAY_";
const envName = (option: OptionSpec) =>
  ENV_PREFIX + (option.env ?? option.flag.toUpperCase().replaceAll("-", "_"));

export function helpText(): string {
  const lines = [
    "Usage: wiregate-relay [options]",
    "",
    "WebTransport edge relay for WireGuard. Settings come from defaults, then --config FILE (JSON,",
    'same names as below in camelCase, limits nested under "limits", upstreams as',
    '{"name": {"host", "port", "publicKey"}}), then environment variables, then flags.',
    "",
    "Options:",
    `  --config FILE${" ".repeat(24)}JSON configuration file (env ${ENV_PREFIX}CONFIG)`,
  ];
  for (const option of OPTIONS) {
    const value =
      option.kind === "bool"
        ? ""
        : option.kind === "list" || option.kind === "upstream"
          ? " VALUE"
          : " VALUE";
    const left = `  --${option.flag}${value}`;
    lines.push(`${left.padEnd(39)}${option.help} (env ${envName(option)})`);
  }
  lines.push(`  --help${" ".repeat(33)}show this text`);
  lines.push(
    "",
    "Without tokens the relay runs in open mode, which is allowed only on a loopback address.",
    "Metrics (Prometheus) and health are served on the ops listener: GET /metrics, GET /healthz.",
    `Defaults: ${JSON.stringify({ host: DEFAULT_CONFIG.host, port: DEFAULT_CONFIG.port, limits: DEFAULT_CONFIG.limits })}`,
  );
  return lines.join("\n");
}

function parseUpstreamSpec(spec: string): [string, Record<string, unknown>] | string {
  const match = /^([^=]+)=(\[[^\]]+\]|[^:/]+):(\d+)(?:\/(.+))?$/.exec(spec.trim());
  if (!match) return `upstream "${spec.slice(0, 80)}": expected NAME=HOST:PORT[/PUBLICKEY]`;
  const [, name, host, port, publicKey] = match;
  const entry: Record<string, unknown> = {
    host: host!.replace(/^\[|\]$/g, ""),
    port: Number(port),
  };
  if (publicKey !== undefined) entry.publicKey = publicKey;
  return [name!, entry];
}

function convert(option: OptionSpec, values: string[], errors: string[]): unknown {
  const last = values.at(-1)!;
  switch (option.kind) {
    case "int":
      return /^\d+$/.test(last) ? Number(last) : last;
    case "nullable-int":
      return last === "off" ? null : /^\d+$/.test(last) ? Number(last) : last;
    case "bool":
      return last === "true" || last === "1"
        ? true
        : last === "false" || last === "0"
          ? false
          : last;
    case "list":
      return values.flatMap((v) => v.split(",")).filter((v) => v.length > 0);
    case "upstream": {
      const upstreams: Record<string, unknown> = {};
      for (const spec of values.flatMap((v) => v.split(",")).filter((v) => v.length > 0)) {
        const parsed = parseUpstreamSpec(spec);
        if (typeof parsed === "string") errors.push(parsed);
        else upstreams[parsed[0]] = parsed[1];
      }
      return upstreams;
    }
    default:
      return last;
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const [head, tail] = key.split(".");
  if (tail === undefined) target[head!] = value;
  else {
    const nested = (target[head!] ?? {}) as Record<string, unknown>;
    nested[tail] = value;
    target[head!] = nested;
  }
}

function layer(source: string, raw: Record<string, unknown>, errors: string[]): PartialConfig {
  const result = parseRelayConfig(raw);
  if (result.ok) return result.config;
  errors.push(...result.errors.map((e) => `${source}: ${e}`));
  return {};
}

/** Tokens from a file, one per line; blank lines and lines starting with # are skipped. */
async function readTokenFile(file: string): Promise<string[] | string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return `token file ${file}: ${(error as Error).message}`;
  }
  const tokens = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  return tokens.length > 0 ? tokens : `token file ${file}: no tokens in it`;
}

export type LoadResult =
  | { ok: true; config: RelayConfig; help: boolean }
  | { ok: false; errors: string[] };

/** Builds the configuration from argv and env. Never throws: file and value problems are listed. */
export async function loadConfig(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<LoadResult> {
  const errors: string[] = [];
  const parseOptions: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    config: { type: "string" },
    help: { type: "boolean" },
  };
  for (const option of OPTIONS) {
    if (option.kind === "bool") {
      parseOptions[option.flag] = { type: "boolean" };
      parseOptions[`no-${option.flag}`] = { type: "boolean" };
    } else parseOptions[option.flag] = { type: "string", multiple: true };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: parseOptions,
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    return { ok: false, errors: [`flags: ${(error as Error).message}`] };
  }
  const flags = parsed.values as Record<string, string[] | boolean | string | undefined>;
  if (flags.help) return { ok: true, config: DEFAULT_CONFIG, help: true };

  const layers: PartialConfig[] = [];
  const configFile = (flags.config as string | undefined) ?? env[`${ENV_PREFIX}CONFIG`];
  if (configFile) {
    try {
      const json: unknown = JSON.parse(await readFile(configFile, "utf8"));
      layers.push(layer(`config file ${configFile}`, json as Record<string, unknown>, errors));
    } catch (error) {
      errors.push(`config file ${configFile}: ${(error as Error).message}`);
    }
  }

  const fromEnv: Record<string, unknown> = {};
  const fromFlags: Record<string, unknown> = {};
  for (const option of OPTIONS) {
    const envValue = env[envName(option)];
    if (envValue !== undefined) setPath(fromEnv, option.key, convert(option, [envValue], errors));
    if (option.kind === "bool") {
      if (flags[option.flag]) setPath(fromFlags, option.key, true);
      if (flags[`no-${option.flag}`]) setPath(fromFlags, option.key, false);
    } else {
      const values = flags[option.flag] as string[] | undefined;
      if (values && values.length > 0)
        setPath(fromFlags, option.key, convert(option, values, errors));
    }
  }
  layers.push(layer("environment", fromEnv, errors), layer("flags", fromFlags, errors));
  if (errors.length > 0) return { ok: false, errors };
  let config = mergeConfig(DEFAULT_CONFIG, ...layers);
  if (config.tokenFile !== null) {
    const tokens = await readTokenFile(config.tokenFile);
    if (typeof tokens === "string") return { ok: false, errors: [tokens] };
    config = mergeConfig(config, layer(`token file ${config.tokenFile}`, { tokens }, errors));
    if (errors.length > 0) return { ok: false, errors };
  }
  const finalErrors = checkFinalConfig(config);
  return finalErrors.length > 0
    ? { ok: false, errors: finalErrors }
    : { ok: true, config, help: false };
}
