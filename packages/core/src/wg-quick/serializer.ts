// Writes wg-quick files back: what the parser reads, it writes again to an equal value.

import { formatCidr, formatIp } from "../ip.js";
import { keyToBase64 } from "../keys.js";
import type { Endpoint, WgQuickConfig } from "./types.js";

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
