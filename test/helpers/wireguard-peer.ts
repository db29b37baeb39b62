import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CommandResult, runCommand, sleep } from "./command.js";
import { createNamespace, type Namespace } from "./namespace.js";
import { UAPI_DIR } from "./slots.js";
import { parseWgDump, type WgDump } from "./wg-dump.js";

export interface WgPeerConfig {
  readonly publicKey: string;
  readonly presharedKey?: string;
  /** CIDRs, IPv4 and/or IPv6. */
  readonly allowedIPs: readonly string[];
  /** "ip:port" or "[ip6]:port". */
  readonly endpoint?: string;
  readonly persistentKeepaliveSeconds?: number;
}

export interface WireGuardPeerOptions {
  /** Base64 private key; a fresh one is generated when omitted. */
  readonly privateKey?: string;
  /** UDP port inside the namespace. Default 51820 (each peer has its own namespace). */
  readonly listenPort?: number;
  /** Tunnel addresses with prefix length, e.g. ["10.77.0.1/24", "fd77::1/64"]. */
  readonly addresses: readonly string[];
  readonly peers?: readonly WgPeerConfig[];
  readonly mtu?: number;
  /** Also route each peer's allowed IPs into the tunnel, like wg-quick. Default true. */
  readonly routeAllowedIPs?: boolean;
  /** wireguard-go's LOG_LEVEL. Default "verbose" (handshake events, kept in `log()`). */
  readonly logLevel?: "verbose" | "error" | "silent";
}

export interface PingResult {
  readonly ok: boolean;
  readonly transmitted: number;
  readonly received: number;
  readonly output: string;
}

export interface WireGuardPeer {
  readonly ns: Namespace;
  /** TUN device name inside `ns` (also the UAPI socket name). */
  readonly ifname: string;
  /** The namespace's underlay IPv4 address, where `listenPort` is reachable over real UDP. */
  readonly underlayAddress: string;
  readonly underlayAddressV6: string;
  /** Root-namespace side of the underlay (where the test process is), IPv4. */
  readonly hostAddress: string;
  readonly hostAddressV6: string;
  readonly listenPort: number;
  /** "underlayAddress:listenPort", ready to use as another peer's endpoint. */
  readonly endpoint: string;
  readonly privateKey: string;
  readonly publicKey: string;
  /** Runs `wg <args>` (e.g. `["show", ifname]`). */
  wg(args: readonly string[]): Promise<CommandResult>;
  /** Adds a peer, or updates it in place (its allowed IPs are replaced). */
  setPeer(peer: WgPeerConfig): Promise<void>;
  removePeer(publicKey: string): Promise<void>;
  /** Parsed `wg show <ifname> dump`: handshake times and transfer counters per peer. */
  dump(): Promise<WgDump>;
  /** Pings from inside the namespace; never throws for an unreachable address. */
  ping(address: string, options?: PingOptions): Promise<PingResult>;
  /** The last lines wireguard-go printed. */
  log(): string;
  /** The same lines, each behind the Unix time (µs) this process read it, like `ts '%.s'`. */
  timedLog(): string;
  /** Stops wireguard-go (SIGTERM, then SIGKILL) and deletes the namespace. */
  stop(): Promise<void>;
}

const UAPI_WAIT_MS = 5_000;
const LOG_LINES = 400;

/** Starts wireguard-go in a fresh namespace and configures it. */
export async function startWireGuardPeer(options: WireGuardPeerOptions): Promise<WireGuardPeer> {
  const ns = await createNamespace();
  try {
    return await configurePeer(ns, options);
  } catch (error) {
    await ns.destroy();
    throw error;
  }
}

async function configurePeer(ns: Namespace, options: WireGuardPeerOptions): Promise<WireGuardPeer> {
  const ifname = ns.wgIface;
  const listenPort = options.listenPort ?? 51820;
  const privateKey = options.privateKey ?? (await generatePrivateKey());
  const publicKey = await publicKeyOf(privateKey);

  const daemon = ns.spawn("wireguard-go", ["-f", ifname], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: options.logLevel ?? "verbose" },
  });
  const { lines: logLines, timed } = collectLog(daemon);
  await waitForUapiSocket(ifname, daemon, logLines);

  const wg = (args: readonly string[]) => runCommand("wg", args);
  await withSecretFiles({ key: privateKey }, (files) =>
    wg(["set", ifname, "listen-port", String(listenPort), "private-key", files.key]),
  );
  const setPeer = async (peer: WgPeerConfig) => {
    if (peer.presharedKey === undefined) await wg(["set", ifname, ...peerArgs(peer, undefined)]);
    else {
      await withSecretFiles({ psk: peer.presharedKey }, (files) =>
        wg(["set", ifname, ...peerArgs(peer, files.psk)]),
      );
    }
    if (options.routeAllowedIPs ?? true) {
      for (const cidr of peer.allowedIPs) {
        await ns.exec("ip", ["route", "replace", cidr, "dev", ifname]);
      }
    }
  };

  if (options.mtu !== undefined) {
    await ns.exec("ip", ["link", "set", ifname, "mtu", String(options.mtu)]);
  }
  for (const cidr of options.addresses) {
    const extra = cidr.includes(":") ? ["nodad"] : [];
    await ns.exec("ip", ["addr", "add", cidr, "dev", ifname, ...extra]);
  }
  await ns.exec("ip", ["link", "set", ifname, "up"]);
  for (const peer of options.peers ?? []) await setPeer(peer);

  return {
    ns,
    ifname,
    underlayAddress: ns.address.v4,
    underlayAddressV6: ns.address.v6,
    hostAddress: ns.hostAddress.v4,
    hostAddressV6: ns.hostAddress.v6,
    listenPort,
    endpoint: `${ns.address.v4}:${listenPort}`,
    privateKey,
    publicKey,
    wg,
    setPeer,
    removePeer: async (key) => {
      await wg(["set", ifname, "peer", key, "remove"]);
    },
    dump: async () => parseWgDump((await wg(["show", ifname, "dump"])).stdout),
    ping: (address, pingOptions = {}) => ping(ns, address, pingOptions),
    log: () => logLines.join("\n"),
    timedLog: () => timed.join("\n"),
    stop: () => ns.destroy(),
  };
}

export async function generatePrivateKey(): Promise<string> {
  return (await runCommand("wg", ["genkey"])).stdout.trim();
}

export async function publicKeyOf(privateKey: string): Promise<string> {
  return (await runCommand("wg", ["pubkey"], { input: `${privateKey}\n` })).stdout.trim();
}

export async function generatePresharedKey(): Promise<string> {
  return (await runCommand("wg", ["genpsk"])).stdout.trim();
}

export async function generateKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = await generatePrivateKey();
  return { privateKey, publicKey: await publicKeyOf(privateKey) };
}

function peerArgs(peer: WgPeerConfig, pskFile: string | undefined): string[] {
  const args = ["peer", peer.publicKey];
  if (pskFile !== undefined) args.push("preshared-key", pskFile);
  if (peer.endpoint !== undefined) args.push("endpoint", peer.endpoint);
  if (peer.persistentKeepaliveSeconds !== undefined) {
    args.push("persistent-keepalive", String(peer.persistentKeepaliveSeconds));
  }
  args.push("allowed-ips", peer.allowedIPs.join(","));
  return args;
}

/** `wg` reads keys only from files: write them to a private temp dir, removed right after use. */
async function withSecretFiles<K extends string, T>(
  secrets: Record<K, string>,
  use: (files: Record<K, string>) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "wgt-keys-"));
  try {
    const files = {} as Record<K, string>;
    for (const [name, value] of Object.entries(secrets) as [K, string][]) {
      const path = join(dir, name);
      await writeFile(path, `${value}\n`, { mode: 0o600 });
      files[name] = path;
    }
    return await use(files);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function waitForUapiSocket(
  ifname: string,
  daemon: ChildProcess,
  logLines: readonly string[],
): Promise<void> {
  const socket = join(UAPI_DIR, `${ifname}.sock`);
  const deadline = Date.now() + UAPI_WAIT_MS;
  while (!existsSync(socket)) {
    if (daemon.exitCode !== null || daemon.signalCode !== null) {
      throw new Error(`wireguard-go exited before creating ${socket}:\n${logLines.join("\n")}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`wireguard-go did not create ${socket} within ${UAPI_WAIT_MS} ms`);
    }
    await sleep(10);
  }
}

function collectLog(child: ChildProcess): { lines: string[]; timed: string[] } {
  const lines: string[] = [];
  const timed: string[] = [];
  const partial = { stdout: "", stderr: "" };
  const append = (stream: "stdout" | "stderr", chunk: string) => {
    const now = ((performance.timeOrigin + performance.now()) / 1000).toFixed(6);
    const parts = (partial[stream] + chunk).split("\n");
    partial[stream] = parts.pop()!;
    for (const line of parts) {
      if (line.length === 0) continue;
      lines.push(line);
      timed.push(`${now} ${line}`);
    }
    for (const list of [lines, timed])
      if (list.length > LOG_LINES) list.splice(0, list.length - LOG_LINES);
  };
  child.stdout?.setEncoding("utf8").on("data", (c: string) => append("stdout", c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => append("stderr", c));
  return { lines, timed };
}

export interface PingOptions {
  /** Echo requests to send, 0.2 s apart (default 3); with `deadlineSeconds`, replies to wait for. */
  readonly count?: number;
  /** How long to wait for each reply (default 1 s). */
  readonly waitSeconds?: number;
  /** Keep sending until `count` replies arrive or this many seconds pass (ping's `-w`). */
  readonly deadlineSeconds?: number;
}

async function ping(ns: Namespace, address: string, options: PingOptions): Promise<PingResult> {
  const count = options.count ?? 3;
  const args = ["-n", "-c", String(count), "-i", "0.2", "-W", String(options.waitSeconds ?? 1)];
  if (options.deadlineSeconds !== undefined) args.push("-w", String(options.deadlineSeconds));
  const result = await ns.exec("ping", [...args, address], { allowFailure: true });
  const summary = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(result.stdout);
  return {
    ok: result.code === 0,
    transmitted: Number(summary?.[1] ?? 0),
    received: Number(summary?.[2] ?? 0),
    output: result.stdout + result.stderr,
  };
}
