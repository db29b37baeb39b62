/**
 * Debian's dnsmasq in a test namespace as an authoritative-only name server for a map of names:
 * it reads no /etc/hosts, no resolv.conf and forwards nothing, so a name outside the map but inside
 * one of its domains is NXDOMAIN, and every answer carries the TTL asked for. Queries are logged
 * (stderr) and counted per name, so a test can tell a cached answer from a re-query without
 * waiting for anything but the query itself.
 */
import type { ChildProcess } from "node:child_process";
import { exited, terminate } from "./command.js";
import type { Namespace } from "./namespace.js";

export const DNSMASQ = "/usr/sbin/dnsmasq";

export interface DnsmasqOptions {
  /**
   * Name → its addresses (IPv4 and/or IPv6), e.g. `{ "web.wg.test": ["10.77.0.1", "fd77::1"] }`,
   * or its addresses and a TTL of its own (seconds).
   */
  names: Record<string, string | readonly string[] | { addresses: readonly string[]; ttl: number }>;
  /** Addresses to listen on inside the namespace (e.g. its tunnel address); all when omitted. */
  listen?: readonly string[];
  /** UDP and TCP port (default 53). */
  port?: number;
  /** TTL of every answer, in seconds (default 60). */
  ttl?: number;
  /**
   * Domains answered here alone: a name in one of them that is not in `names` is NXDOMAIN. By
   * default the parent domain of every name (`wg.test` for `web.wg.test`).
   */
  domains?: readonly string[];
}

export interface Dnsmasq {
  readonly port: number;
  /** Queries seen so far for `name` (any type), or for every name. */
  queries(name?: string): number;
  /** Resolves once at least `count` queries for `name` were seen (rejects after `timeoutMs`). */
  waitForQueries(name: string, count: number, timeoutMs?: number): Promise<void>;
  /** What dnsmasq printed (its query log), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts dnsmasq in `ns`; resolves once it answers on its port. */
export async function startDnsmasq(ns: Namespace, options: DnsmasqOptions): Promise<Dnsmasq> {
  const port = options.port ?? 53;
  const ttl = options.ttl ?? 60;
  const names = Object.entries(options.names);
  const domains =
    options.domains ??
    [...new Set(names.map(([name]) => name.split(".").slice(1).join(".")))].filter(Boolean);
  const args = [
    "--keep-in-foreground",
    "--no-resolv",
    "--no-hosts",
    "--no-poll",
    "--conf-file=/dev/null",
    "--user=root",
    "--pid-file=",
    "--log-queries",
    "--log-facility=-",
    `--port=${port}`,
    `--local-ttl=${ttl}`,
    "--bind-interfaces",
    ...(options.listen ?? []).map((a) => `--listen-address=${a}`),
    ...domains.map((d) => `--local=/${d}/`),
    ...names.map(([name, entry]) => {
      const own = typeof entry === "object" && "ttl" in entry ? entry : undefined;
      const addresses = own ? own.addresses : [entry as string | readonly string[]].flat();
      return `--host-record=${[name, ...addresses, ...(own ? [own.ttl] : [])].join(",")}`;
    }),
  ];
  const child: ChildProcess = ns.spawn(DNSMASQ, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const counts = new Map<string, number>();
  let total = 0;
  const waiters = new Set<() => void>();
  let partial = "";
  const take = (chunk: Buffer) => {
    output += String(chunk);
    if (output.length > 1_000_000) output = output.slice(-500_000);
    partial += String(chunk);
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      // "dnsmasq: query[A] web.wg.test from 10.77.0.2"
      const query = /query\[[A-Z0-9]+\] (\S+) from /.exec(line);
      if (!query) continue;
      const name = query[1]!.toLowerCase();
      counts.set(name, (counts.get(name) ?? 0) + 1);
      total++;
    }
    for (const wake of waiters) wake();
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);

  const started = await new Promise<boolean>((resolve) => {
    const check = () => {
      if (output.includes("started, version")) resolve(true);
    };
    child.stderr?.on("data", check);
    child.stdout?.on("data", check);
    child.once("exit", () => resolve(false));
    check();
  });
  if (!started) throw new Error(`dnsmasq did not start: ${output}`);
  // It logs "started" before its sockets are bound only when it fails right after; wait for the port.
  for (let i = 0; ; i++) {
    const r = await ns.exec("ss", ["-lun", `sport = :${port}`], { allowFailure: true });
    if (r.stdout.includes(`:${port}`)) break;
    if (child.exitCode !== null || i > 100) throw new Error(`dnsmasq is not listening: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const queries = (name?: string) =>
    name === undefined ? total : (counts.get(name.toLowerCase()) ?? 0);
  return {
    port,
    queries,
    waitForQueries: (name, count, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const wake = () => {
          if (queries(name) < count) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(
            new Error(`dnsmasq saw ${queries(name)} queries for ${name}, not ${count}: ${output}`),
          );
        }, timeoutMs);
        waiters.add(wake);
        wake();
      }),
    log: () => output,
    stop: async () => {
      if (child.exitCode === null && child.pid !== undefined) await terminate(child.pid);
      await exited(child);
    },
  };
}
