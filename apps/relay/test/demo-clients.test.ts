import { randomBytes } from "node:crypto";
import { demoClientAddresses } from "@wiregate/packets";
import { describe, expect, it } from "vitest";
import { DemoClients } from "../src/demo-clients.js";

/** Two keys whose derived IPv4 addresses are the same (16 bits: a few hundred tries). */
function collidingKeys(): [Uint8Array, Uint8Array] {
  const seen = new Map<string, Uint8Array>();
  for (;;) {
    const key = new Uint8Array(randomBytes(32));
    const { v4 } = demoClientAddresses(key);
    const earlier = seen.get(v4);
    if (earlier) return [earlier, key];
    seen.set(v4, key);
  }
}

const never = () => undefined;
const hex = (key: Uint8Array) => Buffer.from(key).toString("hex");
const options = { maxClients: 10, idleMs: 1000, reservationMs: 100 };

describe("demo peer client slots", () => {
  it("gives a colliding key the next free addresses; the derived ones stay with their holder", () => {
    const clients = new DemoClients(options);
    const [victim, intruder] = collidingKeys();
    const a = demoClientAddresses(victim);
    expect(clients.admit(victim, 0, never)).toEqual({
      ok: true,
      v4: a.v4,
      v6: a.v6,
      allowedIps: [`${a.v4}/32`, `${a.v6}/128`],
    });
    const b = clients.admit(intruder, 0, never);
    expect(b.ok && b.v4).not.toBe(a.v4);
    expect(b.ok && b.v6).toBe(demoClientAddresses(intruder).v6);
    // Asking again with a held key (a hello claiming it) answers the same and takes nothing.
    expect(clients.admit(victim, 50, never)).toMatchObject({ v4: a.v4, v6: a.v6 });
    expect(clients.size).toBe(2);
    // Once the holder is gone, its address is free again.
    clients.forget(victim);
    clients.forget(intruder);
    expect(clients.admit(intruder, 0, never)).toMatchObject({ v4: a.v4 });
  });

  it("never evicts an active client; a newcomer takes the slot of the idlest idle one", () => {
    const clients = new DemoClients({ ...options, maxClients: 2 });
    const keys = Array.from({ length: 4 }, () => new Uint8Array(randomBytes(32)));
    const handshakes = new Map<string, number>();
    const last = (key: Uint8Array) => handshakes.get(hex(key));
    const shake = (key: Uint8Array, at: number) => handshakes.set(hex(key), at);
    expect(clients.admit(keys[0]!, 0, last).ok).toBe(true);
    shake(keys[0]!, 0);
    expect(clients.admit(keys[1]!, 100, last).ok).toBe(true);
    shake(keys[1]!, 100);
    // Both active (handshakes 500 and 400 ms ago): the newcomer is refused.
    expect(clients.admit(keys[2]!, 500, last)).toEqual({
      ok: false,
      reason: "all 2 client slots are in use",
    });
    shake(keys[1]!, 900);
    // At 1500 key 0 is idle (1500 ms), key 1 is not (600 ms): key 0 makes room.
    const admitted = clients.admit(keys[3]!, 1500, last);
    expect(admitted).toMatchObject({ ok: true });
    expect(admitted.ok && hex(admitted.evicted!)).toBe(hex(keys[0]!));
    expect(clients.size).toBe(2);
  });

  it("keeps a key that has not completed a handshake for reservationMs only", () => {
    const clients = new DemoClients({ ...options, maxClients: 1 });
    const [first, second] = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))];
    expect(clients.admit(first, 0, never).ok).toBe(true);
    expect(clients.admit(second, 99, never).ok).toBe(false);
    const admitted = clients.admit(second, 100, never);
    expect(admitted.ok && hex(admitted.evicted!)).toBe(hex(first));
  });

  it("hands out no address twice while 400 keys churn through, and keeps an active client's", () => {
    const clients = new DemoClients({ maxClients: 32, idleMs: 1000, reservationMs: 100 });
    const victim = new Uint8Array(randomBytes(32));
    const handshakes = new Map<string, number>();
    const last = (key: Uint8Array) => handshakes.get(hex(key));
    const held = new Map<string, string[]>();
    handshakes.set(hex(victim), 0);
    const mine = clients.admit(victim, 0, last);
    if (!mine.ok) throw new Error(mine.reason);
    held.set(hex(victim), mine.allowedIps);
    let refused = 0;
    for (let i = 1; i <= 400; i++) {
      const now = i; // milliseconds: 32 fresh reservations fill the table for 100 ms at a time
      if (i % 20 === 0) handshakes.set(hex(victim), now); // the victim rekeys now and then
      const key = new Uint8Array(randomBytes(32));
      const got = clients.admit(key, now, last);
      if (!got.ok) {
        refused++;
        continue;
      }
      if (got.evicted) held.delete(hex(got.evicted));
      held.set(hex(key), got.allowedIps);
      // Every current holder has addresses of its own; the victim keeps its own.
      const all = [...held.values()].flat();
      expect(new Set(all).size).toBe(all.length);
      expect(held.get(hex(victim))).toEqual(mine.allowedIps);
      expect(clients.size).toBe(held.size);
    }
    expect(refused).toBeGreaterThan(0); // a full table of fresh reservations refuses for a while
    expect(400 - refused).toBeGreaterThan(32); // and churns once they expire
  });
});
