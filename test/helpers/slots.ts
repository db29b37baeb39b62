import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "./command.js";

/**
 * Every test namespace owns one numbered slot. The slot number fixes the namespace's interface
 * names and underlay addresses, so two namespaces (in any process) never collide. A slot is claimed
 * by creating its owner file exclusively; the file says which process owns it, so leftovers of a
 * dead process can be told apart from another test run that is still going.
 */

/** Prefix of everything we create: namespaces, interfaces, UAPI sockets. */
export const PREFIX = "wgt";
/** Bridge in the root namespace that all test namespaces hang off. */
export const BRIDGE = `${PREFIX}br0`;
export const SLOT_COUNT = 4096;

/** Underlay: one /16 and one /64 used by nothing but these tests. `.0.1` / `::1` is the root side. */
export const UNDERLAY_V4_PREFIX = "10.213";
export const UNDERLAY_V6_PREFIX = "fd57:7767:7465:7374";
export const HOST_UNDERLAY = {
  v4: `${UNDERLAY_V4_PREFIX}.0.1`,
  v6: `${UNDERLAY_V6_PREFIX}::1`,
} as const;

const STATE_ROOT = "/run/wiregate-test";
const STATE_DIR = join(STATE_ROOT, "slots");
export const UAPI_DIR = "/var/run/wireguard";

export interface SlotOwner {
  readonly pid: number;
  readonly runId: string;
  readonly namespace: string;
}

export interface SlotNames {
  readonly slot: number;
  readonly namespace: string;
  /** veth end in the root namespace, enslaved to the bridge. */
  readonly hostIface: string;
  /** veth end inside the namespace. */
  readonly nsIface: string;
  /** Name for a WireGuard TUN device in this namespace (its UAPI socket is global). */
  readonly wgIface: string;
  readonly underlayV4: string;
  readonly underlayV6: string;
}

/**
 * Identifies this test run. Vitest's global setup sets it for all workers of one run; a process
 * outside Vitest gets its own.
 */
export function runId(): string {
  process.env.WIREGATE_TEST_RUN_ID ??= `p${process.pid.toString(36)}`;
  const run = process.env.WIREGATE_TEST_RUN_ID;
  // It becomes part of namespace names, which the leftover scan recognises by this shape.
  if (!/^[0-9a-z]{1,24}$/.test(run)) {
    throw new RangeError(`WIREGATE_TEST_RUN_ID must be 1-24 of [0-9a-z], got "${run}"`);
  }
  return run;
}

/** Where processes of a run note what they had to clean up for a test that leaked it. */
export function leakLogPath(run = runId()): string {
  mkdirSync(STATE_ROOT, { recursive: true });
  return join(STATE_ROOT, `leaks-${run}.log`);
}

export function namesForSlot(slot: number, run: string): SlotNames {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) {
    throw new RangeError(`slot must be an integer in [0, ${SLOT_COUNT}), got ${slot}`);
  }
  const host = slot + 2; // .0.0 is the network, .0.1 the root side
  return {
    slot,
    namespace: `${PREFIX}-${run}-${slot}`,
    hostIface: `${PREFIX}${slot}h`,
    nsIface: `${PREFIX}${slot}n`,
    wgIface: `${PREFIX}${slot}`,
    underlayV4: `${UNDERLAY_V4_PREFIX}.${host >> 8}.${host & 0xff}`,
    underlayV6: `${UNDERLAY_V6_PREFIX}::${host.toString(16)}`,
  };
}

/** Claims the first free slot for this process. */
export function claimSlot(): SlotNames {
  mkdirSync(STATE_DIR, { recursive: true });
  const run = runId();
  // Write the owner record first, then hard-link it into place: link() fails atomically when the
  // slot is taken, and a claimed slot never has a half-written owner file.
  const draft = join(STATE_DIR, `.claim-${process.pid}-${Date.now()}`);
  try {
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const names = namesForSlot(slot, run);
      const owner: SlotOwner = { pid: process.pid, runId: run, namespace: names.namespace };
      writeFileSync(draft, JSON.stringify(owner));
      try {
        linkSync(draft, slotFile(slot));
        return names;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
  } finally {
    rmSync(draft, { force: true });
  }
  throw new Error(`all ${SLOT_COUNT} test namespace slots are taken; run the leftover cleanup`);
}

export function releaseSlot(slot: number): void {
  rmSync(slotFile(slot), { force: true });
}

/** All claimed slots with their owners (an unreadable file is reported with owner null). */
export function listSlots(): { slot: number; owner: SlotOwner | null }[] {
  let entries: string[];
  try {
    entries = readdirSync(STATE_DIR);
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name))
    .map((name) => {
      const slot = Number(name);
      try {
        return { slot, owner: JSON.parse(readFileSync(slotFile(slot), "utf8")) as SlotOwner };
      } catch {
        return { slot, owner: null };
      }
    });
}

/** True when the slot's owner is a process that is still running. */
export function ownerAlive(owner: SlotOwner | null): boolean {
  return owner !== null && isAlive(owner.pid);
}

export function slotFile(slot: number): string {
  return join(STATE_DIR, String(slot));
}
