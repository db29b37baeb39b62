import { describe, expect, it } from "vitest";
import {
  enumerateWireGuardGoCrossing,
  enumerateWiregateCrossing,
  renderInterleavings,
} from "../src/interleave.js";

describe("interleavings of a crossing initiation", () => {
  it("the wireguard-go model reproduces both errors of the seed report, naming the interleavings", () => {
    const report = enumerateWireGuardGoCrossing();
    console.log(renderInterleavings(report));
    expect(report.interleavings).toHaveLength(35); // C(7, 3): 4 initiation steps, 3 response steps
    const mustConsume = report.byError.get(
      "Failed to create response message: handshake initiation must be consumed first",
    );
    const invalidState = report.byError.get(
      "Failed to derive keypair: invalid state for keypair derivation",
    );
    expect(mustConsume?.length).toBeGreaterThan(0);
    expect(invalidState?.length).toBeGreaterThan(0);
    // The seed's first case: the response worker commits between consume and create.
    expect(mustConsume).toContainEqual(["R1", "I1", "I2", "R2", "I3", "I4", "R3"]);
    // Sequential processing (no overlap) never errs: the crossing initiation is merely lost.
    const sequential = report.interleavings.filter((i) =>
      /^(I\d ){4}R|^(R\d ){3}I/.test(i.order.join(" ")),
    );
    expect(sequential).toHaveLength(2);
    for (const s of sequential) expect(s.errors).toEqual([]);
  });

  it("the same enumeration over our engine finds no error", () => {
    const report = enumerateWiregateCrossing();
    expect(report.interleavings).toHaveLength(2);
    expect(report.byError.size).toBe(0);
    // Both orders end with a usable keypair at A (no stall).
    for (const i of report.interleavings) expect(i.hasCurrentKeypair).toBe(true);
  });
});
