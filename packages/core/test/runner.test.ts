import { describe, expect, it } from "vitest";
import { REKEY_TIMEOUT } from "../src/constants.js";
import { nodeCrypto } from "../src/crypto/node.js";
import { deterministicRandom } from "../src/deterministic.js";
import { Device, type Output } from "../src/device.js";
import { generatePrivateKey } from "../src/keys.js";
import { DeviceRunner } from "../src/runner.js";
import { VirtualScheduler } from "../src/schedulers.js";
import { ENDPOINT, TUNNEL, udpPacket } from "./sim.js";

/** Two devices, each on a runner over one virtual scheduler; the link drops what `lose` says. */
function network(lose: (n: number) => boolean) {
  const scheduler = new VirtualScheduler();
  const random = deterministicRandom("runner");
  const make = (seed: string) =>
    new Device({
      privateKey: generatePrivateKey(random),
      random: deterministicRandom(seed),
      wallClock: () => 1_700_000_000_000_000_000n + BigInt(scheduler.now()) * 1_000_000n,
      crypto: nodeCrypto,
    });
  const devices = { a: make("a"), b: make("b") };
  const sent: { at: number; from: "a" | "b"; type: number }[] = [];
  const delivered: string[] = [];
  const ticks: number[] = [];
  let n = 0;
  const runners = {} as Record<"a" | "b", DeviceRunner<Output>>;
  for (const side of ["a", "b"] as const) {
    const to = side === "a" ? "b" : "a";
    runners[side] = new DeviceRunner({
      scheduler,
      tick: (now) => {
        ticks.push(now);
        return devices[side].tick(now);
      },
      output: (out) => {
        for (const p of out.packets) delivered.push(new TextDecoder().decode(p.data.subarray(28)));
        for (const d of out.datagrams) {
          sent.push({ at: scheduler.now(), from: side, type: d.data[0]! });
          if (lose(n++)) continue;
          scheduler.at(scheduler.now() + 10, () =>
            runners[to].run((now) => devices[to].receive(now, d.data, ENDPOINT[side])),
          );
        }
      },
    });
  }
  for (const side of ["a", "b"] as const) {
    const peer = side === "a" ? "b" : "a";
    runners[side].run((now) =>
      devices[side].addPeer(now, {
        publicKey: devices[peer].publicKey,
        allowedIps: [`${TUNNEL[peer]}/32`],
        endpoint: ENDPOINT[peer],
      }),
    );
  }
  return { scheduler, devices, runners, sent, delivered, ticks };
}

describe("DeviceRunner on a virtual scheduler", () => {
  it("ticks at the engine's deadline: a lost initiation is retransmitted and data gets through", () => {
    const net = network((n) => n === 0);
    net.runners.a.run((now) => net.devices.a.send(now, udpPacket("a", "hello")));
    const retransmitAt = net.runners.a.timerAt!;
    expect(retransmitAt).toBeGreaterThanOrEqual(REKEY_TIMEOUT);
    net.scheduler.advanceTo(retransmitAt - 1);
    expect(net.sent.filter((s) => s.type === 1)).toHaveLength(1);
    net.scheduler.advanceTo(retransmitAt + 1_000);
    const initiations = net.sent.filter((s) => s.type === 1);
    expect(initiations.map((s) => s.at)).toEqual([0, retransmitAt]);
    expect(net.delivered).toEqual(["hello"]);
    // Every tick ran exactly at a deadline some output announced, never by polling.
    expect(net.ticks[0]).toBe(retransmitAt);
  });

  it("does nothing once stopped: no tick, no call", () => {
    const net = network(() => true);
    net.runners.a.run((now) => net.devices.a.send(now, udpPacket("a", "x")));
    const armed = net.runners.a.timerAt!;
    net.runners.a.stop();
    expect(net.runners.a.timerAt).toBeUndefined();
    expect(
      net.runners.a.run((now) => net.devices.a.send(now, udpPacket("a", "y"))),
    ).toBeUndefined();
    net.scheduler.advanceTo(armed + 60_000);
    expect(net.ticks).toEqual([]);
    expect(net.sent.filter((s) => s.from === "a")).toHaveLength(1);
  });
});
