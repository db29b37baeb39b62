// The wg-quick file format: the `wg setconf` keys plus wg-quick's interface extras.
// Lexing follows wg and wg-quick: "#" starts a comment anywhere on a line, section names and keys
// are case-insensitive, keys and values are trimmed, and list keys accumulate when repeated.
// Every problem is reported with its line; parsing never stops at the first one.

import type { IpPrefix } from "../ip.js";
import { keyToBase64 } from "../keys.js";
import type {
  Endpoint,
  InterfaceConfig,
  PeerConfig,
  WgQuickConfigError,
  WgQuickExtra,
  WgQuickParseResult,
} from "./types.js";
import {
  type DnsEntry,
  parseDnsEntry,
  parseList,
  parsePrefix,
  parseSaveConfig,
  type Result,
  SINGLE_VALUE_PARSERS,
} from "./values.js";

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
