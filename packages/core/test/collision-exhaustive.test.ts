import { describe, expect, it } from "vitest";
import { REKEY_TIMEOUT } from "../src/constants.js";
import { formatTraceEvent } from "../src/trace.js";
import { explore, memoizedCrypto } from "./explore.js";
import { Pair, type PairOptions, type Side } from "./sim.js";

const crypto = memoizedCrypto();
const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(28));

/**
 * C1–C3 and C5 for one finished path: no warning or error; data both ways with no timer run (so
 * never after a retry) and by causal depth 3 — initiation, response, data: one round trip after the
 * initiations cross — whenever each link delivers in order, or depth 4 when the network lets a
 * data packet overtake the response it follows; the same current keypair on both sides; no
 * (key, counter) pair used twice.
 */
function checkConverged(pair: Pair, extraHops = 0): string[] {
  const maxDepth = (pair.overtaken ? 4 : 3) + extraHops;
  const problems: string[] = [];
  for (const e of pair.errors()) problems.push(`${e.side}: ${formatTraceEvent(e)}`);
  for (const side of ["a", "b"] as Side[]) {
    const got = pair.delivered[side];
    if (got.length === 0) problems.push(`${side} received no data`);
    else if (got[0]!.depth > maxDepth)
      problems.push(`${side} got data only at depth ${got[0]!.depth}`);
    if (!got.some((d) => text(d.data) === `from ${side === "a" ? "b" : "a"}`)) {
      problems.push(`${side} never got the peer's packet`);
    }
  }
  if (!pair.converged()) problems.push("sides differ on the current keypair");
  if (pair.nonceReuse > 0) problems.push("a nonce was reused");
  return problems;
}

function simultaneous(options: PairOptions, gapMs = 0) {
  return () => {
    const pair = new Pair({ ...options, crypto });
    pair.send("a", "from a");
    pair.now += gapMs;
    pair.send("b", "from b");
    return pair;
  };
}

function report(name: string, paths: number) {
  console.log(`collision interleavings — ${name}: ${paths} delivery orders explored`);
}

describe("simultaneous initiation, every delivery order", () => {
  for (const winner of ["a", "b"] as Side[]) {
    it(`converges in one round trip with no error (greater key: ${winner})`, () => {
      const r = explore(simultaneous({ seed: "cross", winner }), checkConverged);
      report(`two crossing initiations, winner ${winner}`, r.paths);
      expect(r.failures).toEqual([]);
      expect(r.paths).toBeGreaterThan(10);
    });
  }

  it("every order in full (no reduction), deliveries 25 ms apart", () => {
    const r = explore(simultaneous({ seed: "cross-spaced", winner: "a" }), checkConverged, {
      stepMs: 25,
    });
    report("two crossing initiations, full enumeration, 25 ms steps", r.paths);
    expect(r.failures).toEqual([]);
  });

  it("logs the crossing as an info-level collision on both sides", () => {
    const pair = simultaneous({ seed: "cross" })();
    pair.now += 1;
    pair.deliver(0);
    pair.deliver(0);
    const collisions = pair.events.filter((e) => e.kind === "collision");
    expect(collisions.map((e) => [e.side, e.level])).toEqual([
      ["b", "info"],
      ["a", "info"],
    ]);
  });

  it("with a preshared key", () => {
    const r = explore(simultaneous({ seed: "cross-psk", psk: true }), checkConverged);
    report("two crossing initiations with a PSK", r.paths);
    expect(r.failures).toEqual([]);
  });

  for (const gap of [5, 10, 17, 20]) {
    it(`initiations ${gap} ms apart (TAI64N whitening window)`, () => {
      const r = explore(simultaneous({ seed: `gap${gap}`, winner: "b" }, gap), checkConverged);
      report(`initiations ${gap} ms apart`, r.paths);
      expect(r.failures).toEqual([]);
    });
  }

  it("a duplicated initiation", () => {
    const setup = () => {
      const pair = simultaneous({ seed: "dup" })();
      pair.inFlight.push({ ...pair.inFlight[0]!, data: pair.inFlight[0]!.data.slice() });
      return pair;
    };
    const r = explore(setup, checkConverged);
    report("crossing initiations, one duplicated", r.paths);
    expect(r.failures).toEqual([]);
  });

  for (const lost of ["a", "b"] as Side[]) {
    it(`one initiation lost (${lost}'s)`, () => {
      const setup = () => {
        const pair = simultaneous({ seed: "lost", winner: "a" })();
        pair.inFlight = pair.inFlight.filter((m) => m.from !== lost);
        return pair;
      };
      // Not a collision any more: a plain handshake, where the responder's data waits for key
      // confirmation (one hop more).
      const r = explore(setup, (p) => checkConverged(p, 1));
      report(`one of two initiations lost (${lost})`, r.paths);
      expect(r.failures).toEqual([]);
    });
  }

  for (const winner of ["a", "b"] as Side[]) {
    it(`crossing retransmissions: both originals delayed past REKEY_TIMEOUT (greater key: ${winner})`, () => {
      // Four initiations in flight: both sides' originals and both retransmissions.
      const setup = () => {
        const pair = simultaneous({ seed: "retx", winner })();
        pair.now = REKEY_TIMEOUT + 400;
        pair.tick("a");
        pair.tick("b");
        return pair;
      };
      expect(setup().inFlight.map((m) => m.data.length)).toEqual([148, 148, 148, 148]);
      // A stale original may be consumed first and make the retransmission a flood/replay: then the
      // other handshake carries the data, the responder waiting for confirmation (one hop more).
      const r = explore(setup, (p) => checkConverged(p, 1));
      report(`crossing retransmissions, four initiations in flight (winner ${winner})`, r.paths);
      expect(r.failures).toEqual([]);
    });

    it(`three crossing handshakes: a retransmits while b's initiation crosses (greater key: ${winner})`, () => {
      const setup = () => {
        const pair = new Pair({ seed: "three", winner, crypto });
        pair.send("a", "from a");
        pair.now = REKEY_TIMEOUT + 400;
        pair.tick("a");
        pair.send("b", "from b");
        return pair;
      };
      expect(setup().inFlight).toHaveLength(3);
      const r = explore(setup, (p) => checkConverged(p, 1));
      report(`three crossing initiations (winner ${winner})`, r.paths);
      expect(r.failures).toEqual([]);
    });
  }

  it("the check can fail: 'latest initiation wins' stalls in some orders", () => {
    const r = explore(
      simultaneous({ seed: "cross", collisionPolicy: "latest-wins" }),
      checkConverged,
    );
    report("latest-wins policy (expected to stall)", r.paths);
    expect(r.failures.length).toBeGreaterThan(0);
    expect(r.failures[0]!.problems.join()).toMatch(/received no data|depth|never got/);
  });
});
