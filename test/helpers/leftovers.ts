import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runCommandSync, signal } from "./command.js";
import {
  BRIDGE,
  listSlots,
  ownerAlive,
  PREFIX,
  releaseSlot,
  type SlotOwner,
  UAPI_DIR,
} from "./slots.js";

export interface LeftoverScope {
  /**
   * Also treat everything of this run as left over, even if its owner is still running (the run's
   * global teardown: by then every test should have stopped what it started).
   */
  readonly finishedRun?: string;
}

const NAMESPACE_PATTERN = new RegExp(`^${PREFIX}-[0-9a-z]+-(\\d+)$`);
const NETNS_ETC = "/etc/netns";

function namespaceEtcDirs(): string[] {
  try {
    return readdirSync(NETNS_ETC).filter((name) => NAMESPACE_PATTERN.test(name));
  } catch {
    return [];
  }
}
const HOST_VETH_PATTERN = new RegExp(`^${PREFIX}(\\d+)h$`);
const WG_IFACE_PATTERN = new RegExp(`^${PREFIX}(\\d+)$`);
const SOCKET_PATTERN = new RegExp(`^${PREFIX}(\\d+)\\.sock$`);

/**
 * Finds and removes test resources nobody owns any more: namespaces (and whatever runs in them),
 * stray veths, wireguard-go processes, UAPI sockets, slot records — and the bridge once no test
 * uses it. Resources of other live processes (another engineer's test run) are left alone.
 * Returns a description of everything removed.
 */
export function removeLeftovers(scope: LeftoverScope = {}): string[] {
  const removed: string[] = [];
  const owners = new Map<number, SlotOwner | null>();
  for (const { slot, owner } of listSlots()) owners.set(slot, owner);
  const inUse = (slot: number, namespace?: string): boolean => {
    const owner = owners.get(slot);
    if (owner === undefined || !ownerAlive(owner)) return false;
    if (owner?.runId === scope.finishedRun) return false;
    return namespace === undefined || owner?.namespace === namespace;
  };

  for (const pid of wireguardGoProcesses()) {
    if (inUse(pid.slot)) continue;
    signal(pid.pid, "SIGKILL");
    removed.push(`wireguard-go process ${pid.pid} (${PREFIX}${pid.slot})`);
  }
  for (const namespace of namespaces()) {
    if (inUse(namespace.slot, namespace.name)) continue;
    for (const pid of pidsIn(namespace.name)) signal(pid, "SIGKILL");
    runCommandSync("ip", ["netns", "del", namespace.name]);
    removed.push(`network namespace ${namespace.name}`);
  }
  // A namespace's own /etc files (`ip netns exec` mounts them over /etc; helpers/sshd.ts's user).
  for (const name of namespaceEtcDirs()) {
    const slot = Number(NAMESPACE_PATTERN.exec(name)![1]);
    if (inUse(slot, name)) continue;
    rmSync(join(NETNS_ETC, name), { recursive: true, force: true });
    removed.push(`namespace files ${join(NETNS_ETC, name)}`);
  }
  for (const veth of hostVeths()) {
    if (inUse(veth.slot)) continue;
    runCommandSync("ip", ["link", "del", veth.name]);
    removed.push(`interface ${veth.name}`);
  }
  for (const socket of uapiSockets()) {
    if (inUse(socket.slot)) continue;
    rmSync(join(UAPI_DIR, socket.name), { force: true });
    removed.push(`UAPI socket ${socket.name}`);
  }
  for (const slot of owners.keys()) {
    if (inUse(slot)) continue;
    releaseSlot(slot);
    removed.push(`slot record ${slot}`);
  }
  if (![...owners.keys()].some((slot) => inUse(slot)) && bridgeExists()) {
    // The bridge is shared infrastructure, not a leak: remove it without reporting.
    runCommandSync("ip", ["link", "del", BRIDGE]);
  }
  return removed;
}

function namespaces(): { name: string; slot: number }[] {
  const listed = runCommandSync("ip", ["netns", "list"]).stdout;
  return listed
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .flatMap((name) => {
      const match = NAMESPACE_PATTERN.exec(name);
      return match ? [{ name, slot: Number(match[1]) }] : [];
    });
}

function hostVeths(): { name: string; slot: number }[] {
  const listed = runCommandSync("ip", ["-o", "link", "show"]).stdout;
  return listed.split("\n").flatMap((line) => {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1] ?? "";
    const match = HOST_VETH_PATTERN.exec(name);
    return match ? [{ name, slot: Number(match[1]) }] : [];
  });
}

function uapiSockets(): { name: string; slot: number }[] {
  let entries: string[];
  try {
    entries = readdirSync(UAPI_DIR);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const match = SOCKET_PATTERN.exec(name);
    return match ? [{ name, slot: Number(match[1]) }] : [];
  });
}

/** wireguard-go processes started for one of our interfaces (`wireguard-go -f wgt<slot>`). */
function wireguardGoProcesses(): { pid: number; slot: number }[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      } catch {
        return []; // exited meanwhile
      }
      if (!(argv[0] ?? "").endsWith("wireguard-go")) return [];
      const match = WG_IFACE_PATTERN.exec(argv.at(-2) ?? "");
      return match ? [{ pid: Number(entry), slot: Number(match[1]) }] : [];
    });
}

function pidsIn(namespace: string): number[] {
  return runCommandSync("ip", ["netns", "pids", namespace])
    .stdout.split("\n")
    .map((line) => Number.parseInt(line, 10))
    .filter((pid) => pid > 0);
}

function bridgeExists(): boolean {
  return runCommandSync("ip", ["link", "show", BRIDGE]).code === 0;
}
