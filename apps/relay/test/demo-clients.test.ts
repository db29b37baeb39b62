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

describe("demo peer client slots", () => {
  it("keeps an IPv4 address with its first holder: a colliding key gets its IPv6 only", () => {
    const clients = new DemoClients({ maxClients: 10, idleMs: 1000 });
    const [victim, intruder] = collidingKeys();
    const a = demoClientAddresses(victim);
    const b = demoClientAddresses(intruder);
    expect(clients.admit(victim, 0, never)).toEqual({
      ok: true,
      allowedIps: [`${a.v4}/32`, `${a.v6}/128`],
    });
    expect(clients.admit(intruder, 0, never)).toEqual({ ok: true, allowedIps: [`${b.v6}/128`] });
    // Once the holder is gone, the address is free again.
    clients.forget(victim);
    clients.forget(intruder);
    expect(clients.admit(intruder, 0, never)).toMatchObject({
      allowedIps: [`${b.v4}/32`, `${b.v6}/128`],
    });
  });

  it("never evicts an active client; a newcomer takes the slot of the idlest idle one", () => {
    const clients = new DemoClients({ maxClients: 2, idleMs: 1000 });
    const keys = Array.from({ length: 4 }, () => new Uint8Array(randomBytes(32)));
    const handshakes = new Map<string, number>();
    const last = (key: Uint8Array) => handshakes.get(Buffer.from(key).toString("hex"));
    const shake = (key: Uint8Array, at: number) =>
      handshakes.set(Buffer.from(key).toString("hex"), at);
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
    expect(admitted.ok && Buffer.from(admitted.evicted!).equals(Buffer.from(keys[0]!))).toBe(true);
    expect(clients.size).toBe(2);
  });
});
