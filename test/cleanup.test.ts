import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { exited, isAlive, runCommand, sleep } from "./helpers/command.js";
import { removeLeftovers } from "./helpers/leftovers.js";
import { pidsIn } from "./helpers/namespace.js";
import { startWireGuardPeer } from "./helpers/netns.js";
import { claimSlot, listSlots, slotFile } from "./helpers/slots.js";

async function namespaceExists(name: string): Promise<boolean> {
  const { stdout } = await runCommand("ip", ["netns", "list"]);
  return stdout.split("\n").some((line) => line.split(" ")[0] === name);
}

async function linkExists(name: string): Promise<boolean> {
  return (await runCommand("ip", ["link", "show", name], { allowFailure: true })).code === 0;
}

describe("cleanup", () => {
  it("stop() leaves no namespace, process, interface, socket or slot of the peer behind", async () => {
    const peer = await startWireGuardPeer({ addresses: ["10.79.0.1/24"] });
    const [daemonPid] = await pidsIn(peer.ns.name);
    const socket = `/var/run/wireguard/${peer.ifname}.sock`;
    expect(daemonPid).toBeGreaterThan(0);
    expect(isAlive(daemonPid!)).toBe(true);
    expect(existsSync(socket)).toBe(true);
    expect(await namespaceExists(peer.ns.name)).toBe(true);
    expect(await linkExists(peer.ns.hostIface)).toBe(true);

    await peer.stop();

    expect(isAlive(daemonPid!)).toBe(false);
    expect(existsSync(socket)).toBe(false);
    expect(await namespaceExists(peer.ns.name)).toBe(false);
    expect(await linkExists(peer.ns.hostIface)).toBe(false);
    expect(listSlots().map((entry) => entry.slot)).not.toContain(peer.ns.slot);
    await peer.stop(); // idempotent
  });

  it("removeLeftovers() removes what a crashed process left, and reports it", async () => {
    // Simulate a test process that died mid-test: its slot is owned by a pid that no longer runs.
    const names = claimSlot();
    const dead = spawn("true");
    await exited(dead);
    const owner = JSON.parse(readFileSync(slotFile(names.slot), "utf8"));
    writeFileSync(slotFile(names.slot), JSON.stringify({ ...owner, pid: dead.pid }));
    await runCommand("ip", ["netns", "add", names.namespace]);
    const daemon = spawn(
      "ip",
      ["netns", "exec", names.namespace, "wireguard-go", "-f", names.wgIface],
      {
        stdio: "ignore",
      },
    );
    const socket = `/var/run/wireguard/${names.wgIface}.sock`;
    for (let i = 0; i < 250 && !existsSync(socket); i++) await sleep(20);
    expect(existsSync(socket)).toBe(true);

    const removed = removeLeftovers();

    await exited(daemon);
    expect(removed).toContain(`wireguard-go process ${daemon.pid} (${names.wgIface})`);
    expect(removed).toContain(`network namespace ${names.namespace}`);
    expect(removed).toContain(`UAPI socket ${names.wgIface}.sock`);
    expect(await namespaceExists(names.namespace)).toBe(false);
    expect(existsSync(socket)).toBe(false);
    expect(listSlots().map((entry) => entry.slot)).not.toContain(names.slot);
  });
});
