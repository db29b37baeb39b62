// The value of each wg-quick key, checked: every parser returns a result with a message that
// names what is wrong, never throws.

import { type IpAddress, type IpPrefix, parseCidr, parseIp } from "../ip.js";
import { parseKey } from "../keys.js";
import type { Endpoint } from "./types.js";

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };
export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(error: string): Result<T> => ({ ok: false, error });

function parseInteger(text: string, min: number, max: number, what: string): Result<number> {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    return fail(`'${text}' is not valid (${what} must be an integer ${min}–${max})`);
  }
  return ok(Number(text));
}

function parseKeyValue(text: string): Result<Uint8Array> {
  const parsed = parseKey(text);
  return parsed.ok ? ok(parsed.key) : fail(`not a valid key (${parsed.error})`);
}

/** Comma-separated items, each parsed; an empty value is an empty list. */
export function parseList<T>(text: string, parseItem: (item: string) => Result<T>): Result<T[]> {
  if (text === "") return ok([]);
  const out: T[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") return fail(`empty item in the list '${text}'`);
    const parsed = parseItem(item);
    if (!parsed.ok) return parsed;
    out.push(parsed.value);
  }
  return ok(out);
}

const HOSTNAME_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function isHostname(text: string): boolean {
  return text.length <= 253 && text.split(".").every((label) => HOSTNAME_LABEL.test(label));
}

/** Looks like an address to wg-quick (digits and dots, or any ':'): then it must be one. */
function looksLikeAddress(text: string): boolean {
  return /^[0-9.]+$/.test(text) || text.includes(":");
}

export type DnsEntry = { server: IpAddress } | { search: string };

export function parseDnsEntry(text: string): Result<DnsEntry> {
  if (looksLikeAddress(text)) {
    const ip = parseIp(text);
    return ip.ok ? ok({ server: ip.address }) : fail(ip.error);
  }
  if (!isHostname(text))
    return fail(`'${text}' is neither an IP address nor a valid search domain`);
  return ok({ search: text });
}

function parseFwMark(text: string): Result<number> {
  if (text.toLowerCase() === "off") return ok(0);
  // Like wg: decimal, or hexadecimal with 0x.
  const value = /^0x[0-9a-fA-F]{1,8}$/.test(text)
    ? Number.parseInt(text.slice(2), 16)
    : /^[0-9]{1,10}$/.test(text)
      ? Number(text)
      : Number.NaN;
  if (!(value <= 0xffffffff)) {
    return fail(
      `'${text}' is not valid (expected "off" or an integer 0–4294967295, decimal or 0x hex)`,
    );
  }
  return ok(value);
}

function parsePort(text: string, what: string): Result<number> {
  return parseInteger(text, 1, 65535, what);
}

export type EndpointParseResult = { ok: true; endpoint: Endpoint } | { ok: false; error: string };

/** Parses `host:port`, `[IPv6]:port` or `hostname:port` (no zone ids, port 1–65535). */
export function parseEndpoint(text: string): EndpointParseResult {
  const result = parseEndpointValue(text);
  return result.ok ? { ok: true, endpoint: result.value } : result;
}

function parseEndpointValue(text: string): Result<Endpoint> {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1) return fail(`'${text}' has no closing ']'`);
    if (text[close + 1] !== ":") return fail(`'${text}' needs ':port' after ']'`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    const ip = parseIp(host);
    if (!ip.ok || ip.address.family !== 6) {
      return fail(
        `'${text}': inside brackets must be an IPv6 address${ip.ok ? "" : ` (${ip.error})`}`,
      );
    }
    const port = parsePort(portText, "the port");
    if (!port.ok) return fail(`'${text}': ${port.error}`);
    return ok({ kind: "address", address: ip.address, port: port.value });
  }
  const colon = text.lastIndexOf(":");
  if (colon === -1)
    return fail(`'${text}' has no port (expected host:port, [IPv6]:port or hostname:port)`);
  host = text.slice(0, colon);
  portText = text.slice(colon + 1);
  if (host.includes(":"))
    return fail(`'${text}': write an IPv6 endpoint in brackets, as [address]:port`);
  if (host === "") return fail(`'${text}' has no host`);
  const port = parsePort(portText, "the port");
  if (!port.ok) return fail(`'${text}': ${port.error}`);
  if (looksLikeAddress(host)) {
    const ip = parseIp(host);
    if (!ip.ok) return fail(`'${text}': ${ip.error}`);
    return ok({ kind: "address", address: ip.address, port: port.value });
  }
  if (!isHostname(host)) return fail(`'${text}': '${host}' is not a valid hostname`);
  return ok({ kind: "hostname", hostname: host, port: port.value });
}

export function parsePrefix(text: string): Result<IpPrefix> {
  const parsed = parseCidr(text);
  return parsed.ok ? ok(parsed.prefix) : fail(parsed.error);
}

export function parseSaveConfig(text: string): Result<string> {
  return /^(true|false)$/i.test(text)
    ? ok(text)
    : fail(`'${text}' is not valid (expected true or false)`);
}

export const SINGLE_VALUE_PARSERS: Record<string, (value: string) => Result<unknown>> = {
  PrivateKey: parseKeyValue,
  ListenPort: (value) => parseInteger(value, 0, 65535, "ListenPort"),
  MTU: (value) => parseInteger(value, 68, 65535, "MTU"),
  FwMark: parseFwMark,
  PublicKey: parseKeyValue,
  PresharedKey: parseKeyValue,
  Endpoint: parseEndpointValue,
  PersistentKeepalive: (value) =>
    value.toLowerCase() === "off"
      ? ok(0)
      : parseInteger(value, 0, 65535, 'PersistentKeepalive (or "off")'),
};
