// wg-quick configuration files: the `wg setconf` keys plus wg-quick's interface extras.
// Lexing follows wg and wg-quick: "#" starts a comment anywhere on a line, section names and keys
// are case-insensitive, keys and values are trimmed, and list keys accumulate when repeated.
// Every problem is reported with its line; parsing never stops at the first one.

import { formatCidr, formatIp, type IpAddress, type IpPrefix, parseCidr, parseIp } from "./ip.js";
import { keyToBase64, parseKey } from "./keys.js";

export type Endpoint =
  | { kind: "address"; address: IpAddress; port: number }
  | { kind: "hostname"; hostname: string; port: number };

/** A wg-quick key Wiregate keeps (so a config round-trips) but does not act on. */
export interface WgQuickExtra {
  /** Canonical spelling: Table, PreUp, PostUp, PreDown, PostDown or SaveConfig. */
  key: string;
  value: string;
}

export interface InterfaceConfig {
  privateKey: Uint8Array;
  listenPort?: number;
  /** Interface addresses with their host bits (10.0.0.1/24). */
  addresses: IpPrefix[];
  /** DNS servers. */
  dns: IpAddress[];
  /** DNS search domains (wg-quick treats a DNS entry that is not an address as one). */
  dnsSearch: string[];
  mtu?: number;
  /** 0 means off. */
  fwMark?: number;
  /** In file order. */
  extras: WgQuickExtra[];
}

export interface PeerConfig {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array;
  allowedIps: IpPrefix[];
  endpoint?: Endpoint;
  /** Seconds; 0 means off. */
  persistentKeepaliveSeconds?: number;
}

export interface WgQuickConfig {
  interface: InterfaceConfig;
  peers: PeerConfig[];
}

export interface WgQuickConfigError {
  /** 1-based line the problem is on (for a missing section: where it should start). */
  line: number;
  message: string;
}

export type WgQuickParseResult =
  | { ok: true; config: WgQuickConfig; warnings: WgQuickConfigError[] }
  | { ok: false; errors: WgQuickConfigError[] };

/** "line 7: AllowedIPs: …" */
export function formatWgQuickConfigError(error: WgQuickConfigError): string {
  return `line ${error.line}: ${error.message}`;
}

const INTERFACE_KEYS = ["PrivateKey", "ListenPort", "Address", "DNS", "MTU", "FwMark"] as const;
const EXTRA_KEYS = ["Table", "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig"] as const;
const PEER_KEYS = [
  "PublicKey",
  "PresharedKey",
  "AllowedIPs",
  "Endpoint",
  "PersistentKeepalive",
] as const;
/** Keys that may repeat: lists accumulate, hooks run in order. */
const REPEATABLE = new Set([
  "Address",
  "DNS",
  "AllowedIPs",
  "PreUp",
  "PostUp",
  "PreDown",
  "PostDown",
]);

function canonicalKey(keys: readonly string[], text: string): string | undefined {
  const lower = text.toLowerCase();
  return keys.find((k) => k.toLowerCase() === lower);
}

type Result<T> = { ok: true; value: T } | { ok: false; error: string };
const ok = <T>(value: T): Result<T> => ({ ok: true, value });
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
function parseList<T>(text: string, parseItem: (item: string) => Result<T>): Result<T[]> {
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

type DnsEntry = { server: IpAddress } | { search: string };

function parseDnsEntry(text: string): Result<DnsEntry> {
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

function parsePrefix(text: string): Result<IpPrefix> {
  const parsed = parseCidr(text);
  return parsed.ok ? ok(parsed.prefix) : fail(parsed.error);
}

function parseSaveConfig(text: string): Result<string> {
  return /^(true|false)$/i.test(text)
    ? ok(text)
    : fail(`'${text}' is not valid (expected true or false)`);
}

const SINGLE_VALUE_PARSERS: Record<string, (value: string) => Result<unknown>> = {
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

interface SectionDraft {
  line: number;
  /** Valid values of single-valued keys, with their line. */
  values: Map<string, { line: number; value: unknown }>;
  /** Every key that appeared, valid or not, so a bad PrivateKey is not also reported missing. */
  mentioned: Set<string>;
}

interface PeerDraft extends SectionDraft {
  allowedIps: IpPrefix[];
}

/** Parses a wg-quick configuration. Never throws. */
export function parseWgQuickConfig(text: string): WgQuickParseResult {
  const errors: WgQuickConfigError[] = [];
  const warnings: WgQuickConfigError[] = [];
  let iface:
    | (SectionDraft & { addresses: IpPrefix[]; dns: DnsEntry[]; extras: WgQuickExtra[] })
    | null = null;
  const peers: PeerDraft[] = [];
  let section: "interface" | "peer" | null = null;

  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const hash = lines[i]!.indexOf("#");
    const content = (hash === -1 ? lines[i]! : lines[i]!.slice(0, hash)).trim();
    if (content === "") continue;

    if (content.startsWith("[")) {
      const name = content.toLowerCase();
      if (name === "[interface]") {
        section = "interface";
        if (iface === null) {
          iface = {
            line,
            values: new Map(),
            mentioned: new Set(),
            addresses: [],
            dns: [],
            extras: [],
          };
        } else {
          warnings.push({
            line,
            message: `another [Interface] section (first at line ${iface.line}); its keys apply to the same interface`,
          });
        }
      } else if (name === "[peer]") {
        section = "peer";
        peers.push({ line, values: new Map(), mentioned: new Set(), allowedIps: [] });
      } else {
        section = null;
        errors.push({
          line,
          message: `unknown section ${content} (expected [Interface] or [Peer])`,
        });
      }
      continue;
    }

    const equals = content.indexOf("=");
    const keyText = equals === -1 ? content : content.slice(0, equals).trim();
    if (equals === -1 || keyText === "") {
      errors.push({ line, message: `expected 'Key = Value', found '${content}'` });
      continue;
    }
    const value = content.slice(equals + 1).trim();
    if (section === null) {
      if (iface === null && peers.length === 0) {
        errors.push({
          line,
          message: `${keyText} appears before any [Interface] or [Peer] section`,
        });
      }
      // Lines inside an unknown section were already accounted for by its error.
      continue;
    }

    const draft: SectionDraft = section === "interface" ? iface! : peers[peers.length - 1]!;
    const known = section === "interface" ? [...INTERFACE_KEYS, ...EXTRA_KEYS] : PEER_KEYS;
    const key = canonicalKey(known, keyText);
    if (key === undefined) {
      const where = section === "interface" ? "[Interface]" : "[Peer]";
      errors.push({ line, message: `unknown key '${keyText}' in ${where}` });
      continue;
    }
    draft.mentioned.add(key);
    if (!REPEATABLE.has(key)) {
      const earlier = draft.values.get(key);
      if (earlier !== undefined) {
        warnings.push({
          line,
          message: `${key} is set again; this value replaces the one on line ${earlier.line}`,
        });
      }
      if (value === "") {
        errors.push({ line, message: `${key}: missing value` });
        continue;
      }
    }

    /** The parsed value, or undefined after recording the error. */
    const take = <T>(result: Result<T>): T | undefined => {
      if (result.ok) return result.value;
      errors.push({ line, message: `${key}: ${result.error}` });
      return undefined;
    };

    if (section === "interface" && canonicalKey(EXTRA_KEYS, key) !== undefined) {
      if (key === "SaveConfig" && take(parseSaveConfig(value)) === undefined) continue;
      iface!.extras.push({ key, value });
      warnings.push({
        line,
        message: `${key} is a wg-quick setting not used by Wiregate (kept as written)`,
      });
    } else if (key === "Address") {
      iface!.addresses.push(...(take(parseList(value, parsePrefix)) ?? []));
    } else if (key === "DNS") {
      iface!.dns.push(...(take(parseList(value, parseDnsEntry)) ?? []));
    } else if (key === "AllowedIPs") {
      peers[peers.length - 1]!.allowedIps.push(...(take(parseList(value, parsePrefix)) ?? []));
    } else {
      const parse = SINGLE_VALUE_PARSERS[key];
      const parsed = parse === undefined ? undefined : take(parse(value));
      if (parsed !== undefined) draft.values.set(key, { line, value: parsed });
    }
  }

  if (iface === null) {
    errors.push({ line: 1, message: "missing [Interface] section" });
  } else if (!iface.mentioned.has("PrivateKey")) {
    errors.push({ line: iface.line, message: "[Interface] has no PrivateKey" });
  }
  const seenPublicKeys = new Map<string, number>();
  for (const peer of peers) {
    const publicKey = peer.values.get("PublicKey");
    if (publicKey === undefined) {
      if (!peer.mentioned.has("PublicKey"))
        errors.push({ line: peer.line, message: "[Peer] has no PublicKey" });
      continue;
    }
    const text = keyToBase64(publicKey.value as Uint8Array);
    const first = seenPublicKeys.get(text);
    if (first !== undefined) {
      errors.push({
        line: publicKey.line,
        message: `PublicKey: duplicate of the peer's on line ${first}`,
      });
    } else {
      seenPublicKeys.set(text, publicKey.line);
    }
  }

  if (errors.length > 0 || iface === null) {
    errors.sort((a, b) => a.line - b.line);
    return { ok: false, errors };
  }

  const get = <T>(draft: SectionDraft, key: string): T | undefined =>
    draft.values.get(key)?.value as T | undefined;
  const interfaceConfig: InterfaceConfig = {
    privateKey: get<Uint8Array>(iface, "PrivateKey")!,
    addresses: iface.addresses,
    dns: iface.dns.flatMap((d) => ("server" in d ? [d.server] : [])),
    dnsSearch: iface.dns.flatMap((d) => ("search" in d ? [d.search] : [])),
    extras: iface.extras,
  };
  setIfDefined(interfaceConfig, "listenPort", get<number>(iface, "ListenPort"));
  setIfDefined(interfaceConfig, "mtu", get<number>(iface, "MTU"));
  setIfDefined(interfaceConfig, "fwMark", get<number>(iface, "FwMark"));
  const peerConfigs = peers.map((draft) => {
    const peer: PeerConfig = {
      publicKey: get<Uint8Array>(draft, "PublicKey")!,
      allowedIps: draft.allowedIps,
    };
    setIfDefined(peer, "presharedKey", get<Uint8Array>(draft, "PresharedKey"));
    setIfDefined(peer, "endpoint", get<Endpoint>(draft, "Endpoint"));
    setIfDefined(peer, "persistentKeepaliveSeconds", get<number>(draft, "PersistentKeepalive"));
    return peer;
  });
  warnings.sort((a, b) => a.line - b.line);
  return { ok: true, config: { interface: interfaceConfig, peers: peerConfigs }, warnings };
}

function setIfDefined<T extends object, K extends keyof T>(
  target: T,
  key: K,
  value: T[K] | undefined,
): void {
  if (value !== undefined) target[key] = value;
}

function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === "hostname") return `${endpoint.hostname}:${endpoint.port}`;
  const host = formatIp(endpoint.address);
  return endpoint.address.family === 6 ? `[${host}]:${endpoint.port}` : `${host}:${endpoint.port}`;
}

/** Writes a configuration that {@link parseWgQuickConfig} reads back to an equal value. */
export function formatWgQuickConfig(config: WgQuickConfig): string {
  const out: string[] = ["[Interface]"];
  const iface = config.interface;
  out.push(`PrivateKey = ${keyToBase64(iface.privateKey, "PrivateKey")}`);
  if (iface.listenPort !== undefined) out.push(`ListenPort = ${iface.listenPort}`);
  if (iface.addresses.length > 0)
    out.push(`Address = ${iface.addresses.map(formatCidr).join(", ")}`);
  const dns = [...iface.dns.map(formatIp), ...iface.dnsSearch];
  if (dns.length > 0) out.push(`DNS = ${dns.join(", ")}`);
  if (iface.mtu !== undefined) out.push(`MTU = ${iface.mtu}`);
  if (iface.fwMark !== undefined) out.push(`FwMark = ${iface.fwMark === 0 ? "off" : iface.fwMark}`);
  for (const extra of iface.extras) {
    if (/[#\r\n]/.test(extra.value) || extra.value !== extra.value.trim()) {
      throw new RangeError(
        `formatWgQuickConfig: ${extra.key} value cannot be written: ${JSON.stringify(extra.value)}`,
      );
    }
    out.push(`${extra.key} = ${extra.value}`);
  }
  for (const peer of config.peers) {
    out.push("", "[Peer]", `PublicKey = ${keyToBase64(peer.publicKey, "PublicKey")}`);
    if (peer.presharedKey !== undefined) {
      out.push(`PresharedKey = ${keyToBase64(peer.presharedKey, "PresharedKey")}`);
    }
    if (peer.allowedIps.length > 0)
      out.push(`AllowedIPs = ${peer.allowedIps.map(formatCidr).join(", ")}`);
    if (peer.endpoint !== undefined) out.push(`Endpoint = ${formatEndpoint(peer.endpoint)}`);
    if (peer.persistentKeepaliveSeconds !== undefined) {
      out.push(
        `PersistentKeepalive = ${peer.persistentKeepaliveSeconds === 0 ? "off" : peer.persistentKeepaliveSeconds}`,
      );
    }
  }
  return `${out.join("\n")}\n`;
}
