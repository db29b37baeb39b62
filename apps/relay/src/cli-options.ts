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
  type RelayConfig,
} from "./config.js";
import { OPTIONS, type OptionSpec } from "./option-table.js";
import { parseRelayConfig } from "./relay-config-parser.js";

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
