import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  type CommandResult,
  exited,
  type RunOptions,
  runCommand,
  runCommandSync,
  signal,
  terminate,
} from "./command.js";
import { register } from "./registry.js";
import {
  BRIDGE,
  claimSlot,
  HOST_UNDERLAY,
  releaseSlot,
  type SlotNames,
  UAPI_DIR,
} from "./slots.js";

/**
 * A fresh network namespace wired to the root namespace (where the test process runs).
 *
 * Topology: every namespace gets a veth pair; the root end is a port of one shared bridge
 * (`wgtbr0`, holding 10.213.0.1/16 and fd57:7767:7465:7374::1/64), the namespace end holds the
 * namespace's own address in that subnet. So the test process reaches every namespace directly, and
 * namespaces reach each other over plain L2 through the bridge — no IP forwarding, no NAT, no
 * firewall rules, nothing changed in the root namespace's sysctls.
 */
export interface Namespace {
  /** Namespace name, for `ip netns exec` / `ip -n`. */
  readonly name: string;
  readonly slot: number;
  /** Underlay interface inside the namespace. */
  readonly iface: string;
  /** The other end of the veth, in the root namespace (a bridge port). */
  readonly hostIface: string;
  /** Underlay addresses inside the namespace (no prefix length). */
  readonly address: { readonly v4: string; readonly v6: string };
  /** Root-namespace addresses on the bridge, reachable from inside every test namespace. */
  readonly hostAddress: { readonly v4: string; readonly v6: string };
  /** The interface name reserved for a WireGuard device in this namespace (globally unique). */
  readonly wgIface: string;
  /** Runs a command inside the namespace to completion. */
  exec(command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Starts a long-running command inside the namespace; `destroy()` kills it. */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Kills everything running inside, deletes the namespace (and with it the veth pair). */
  destroy(): Promise<void>;
}

const BRIDGE_V4_CIDR = `${HOST_UNDERLAY.v4}/16`;
const BRIDGE_V6_CIDR = `${HOST_UNDERLAY.v6}/64`;

export async function createNamespace(): Promise<Namespace> {
  const names = claimSlot();
  const children = new Set<ChildProcess>();
  const unregister = register({
    description: `network namespace ${names.namespace}`,
    cleanupSync: () => removeSync(names, children),
  });
  try {
    await ensureBridge();
    await setUp(names);
  } catch (error) {
    removeSync(names, children);
    unregister();
    throw error;
  }

  let destroying: Promise<void> | undefined;
  const ns: Namespace = {
    name: names.namespace,
    slot: names.slot,
    iface: names.nsIface,
    hostIface: names.hostIface,
    address: { v4: names.underlayV4, v6: names.underlayV6 },
    hostAddress: HOST_UNDERLAY,
    wgIface: names.wgIface,
    exec: (command, args, options) =>
      runCommand("ip", ["netns", "exec", names.namespace, command, ...args], options),
    spawn: (command, args, options = {}) => {
      // `ip netns exec` execs the command in place, so the child's pid is the command's pid.
      const child = spawn("ip", ["netns", "exec", names.namespace, command, ...args], options);
      children.add(child);
      child.once("exit", () => children.delete(child));
      return child;
    },
    destroy: () => {
      destroying ??= (async () => {
        await Promise.all(
          [...children].map(async (child) => {
            if (child.pid !== undefined) await terminate(child.pid);
            await exited(child);
          }),
        );
        for (const pid of await pidsIn(names.namespace)) await terminate(pid);
        // The kernel frees a deleted namespace, and the veth in it, asynchronously; deleting our
        // end first removes the pair at once, so the slot's interface names are free on release.
        await runCommand("ip", ["link", "del", names.hostIface], { allowFailure: true });
        await runCommand("ip", ["netns", "del", names.namespace], { allowFailure: true });
        removeFiles(names);
        unregister();
      })();
      return destroying;
    },
  };
  return ns;
}

async function setUp(names: SlotNames): Promise<void> {
  const ns = names.namespace;
  await ip(["netns", "add", ns]);
  // The slot is ours: an interface of its name is a leftover of an earlier owner's namespace that
  // the kernel has not freed yet.
  await runCommand("ip", ["link", "del", names.hostIface], { allowFailure: true });
  await ip([
    "link",
    "add",
    names.hostIface,
    "type",
    "veth",
    "peer",
    "name",
    names.nsIface,
    "netns",
    ns,
  ]);
  try {
    await ip(["link", "set", names.hostIface, "master", BRIDGE, "up"]);
  } catch {
    // A leftover cleanup elsewhere may have removed the idle bridge just now: recreate it once.
    await ensureBridge();
    await ip(["link", "set", names.hostIface, "master", BRIDGE, "up"]);
  }
  await ip(["-n", ns, "link", "set", "lo", "up"]);
  await ip(["-n", ns, "addr", "add", `${names.underlayV4}/16`, "dev", names.nsIface]);
  // nodad: the address is usable at once instead of after ~1 s of duplicate detection.
  await ip(["-n", ns, "addr", "add", `${names.underlayV6}/64`, "dev", names.nsIface, "nodad"]);
  await ip(["-n", ns, "link", "set", names.nsIface, "up"]);
}

/** Creates the shared bridge if no one has yet; every step is idempotent, so racing processes agree. */
async function ensureBridge(): Promise<void> {
  const created = await runCommand(
    "ip",
    ["link", "add", BRIDGE, "type", "bridge", "forward_delay", "0", "mcast_snooping", "0"],
    { allowFailure: true },
  );
  if (created.code !== 0 && !created.stderr.includes("File exists")) {
    throw new Error(`cannot create bridge ${BRIDGE}: ${created.stderr.trim()}`);
  }
  await ip(["addr", "replace", BRIDGE_V4_CIDR, "dev", BRIDGE]);
  await ip(["addr", "replace", BRIDGE_V6_CIDR, "dev", BRIDGE, "nodad"]);
  await ip(["link", "set", BRIDGE, "up"]);
}

/** Pids of every process living in the namespace. */
export async function pidsIn(namespace: string): Promise<number[]> {
  const result = await runCommand("ip", ["netns", "pids", namespace], { allowFailure: true });
  return parsePids(result.stdout);
}

function removeSync(names: SlotNames, children: Set<ChildProcess>): void {
  for (const child of children) if (child.pid !== undefined) signal(child.pid, "SIGKILL");
  const pids = runCommandSync("ip", ["netns", "pids", names.namespace]).stdout;
  for (const pid of parsePids(pids)) signal(pid, "SIGKILL");
  runCommandSync("ip", ["link", "del", names.hostIface]);
  runCommandSync("ip", ["netns", "del", names.namespace]);
  removeFiles(names);
}

function removeFiles(names: SlotNames): void {
  // wireguard-go removes its socket on SIGTERM, but not when it had to be SIGKILLed.
  rmSync(join(UAPI_DIR, `${names.wgIface}.sock`), { force: true });
  releaseSlot(names.slot);
}

function parsePids(text: string): number[] {
  return text
    .split("\n")
    .map((line) => Number.parseInt(line, 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

async function ip(args: readonly string[]): Promise<void> {
  await runCommand("ip", args);
}
