// wg-quick configuration files as values: what the parser returns and the serializer writes.

import type { IpAddress, IpPrefix } from "../ip.js";

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
