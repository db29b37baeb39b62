/**
 * What the kernel dropped on the relay's upstream UDP sockets before the relay read it. A session's
 * socket takes what its upstream sends until the event loop reads it; a burst of full-size packets
 * beyond its receive buffer (upstream-buffer.ts: 2 MiB, about 900 datagrams of 1,452 bytes)
 * overflows it, and nothing in Node says so. Linux counts each socket's drops in /proc/net/udp and
 * /proc/net/udp6 (the last column); this reads them, one read of each file for all sessions.
 * Elsewhere there is nothing to read, and nothing is counted.
 */

import { readFile } from "node:fs/promises";

/** Drops by local socket, keyed by `udpKey`. */
export type UdpDrops = Map<string, number>;

export const udpKey = (family: 4 | 6, port: number): string => `${family}:${port}`;

const LOCAL_ADDRESS = /^[0-9A-Fa-f]{8,32}:([0-9A-Fa-f]{4})$/;
const COUNT = /^\d{1,15}$/;

/**
 * The drops of each local port in one /proc/net/udp{,6} text; lines that do not have the kernel's
 * shape are skipped. Sockets sharing a port add up.
 */
export function parseProcNetUdp(text: string, family: 4 | 6, into: UdpDrops = new Map()): UdpDrops {
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // sl, local_address, rem_address, st, tx:rx queue, tr:tm, retrnsmt, uid, timeout, inode, ref,
    // pointer, drops.
    if (fields.length < 13) continue;
    const port = LOCAL_ADDRESS.exec(fields[1] ?? "")?.[1];
    const drops = fields[fields.length - 1] ?? "";
    if (port === undefined || !COUNT.test(drops)) continue;
    const key = udpKey(family, Number.parseInt(port, 16));
    into.set(key, (into.get(key) ?? 0) + Number(drops));
  }
  return into;
}

/** Every local UDP socket's drops in this network namespace; empty where /proc has none. */
export async function readUdpDrops(): Promise<UdpDrops> {
  const drops: UdpDrops = new Map();
  const read = (path: string) => readFile(path, "utf8").catch(() => "");
  const [v4, v6] = await Promise.all([read("/proc/net/udp"), read("/proc/net/udp6")]);
  parseProcNetUdp(v4, 4, drops);
  parseProcNetUdp(v6, 6, drops);
  return drops;
}
