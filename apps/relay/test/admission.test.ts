import { describe, expect, it } from "vitest";
import { addressGroup, peerAddressGroup } from "../src/address-group.js";
import { KeyedBudget } from "../src/keyed-budget.js";

describe("addressGroup", () => {
  it("keeps IPv4 addresses, unwraps IPv4-mapped IPv6, groups IPv6 by /64", () => {
    expect(addressGroup("127.0.0.2")).toBe("127.0.0.2");
    expect(addressGroup("::ffff:127.0.0.2")).toBe("127.0.0.2");
    expect(addressGroup("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(addressGroup("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(addressGroup("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
    expect(addressGroup("::1")).toBe("0:0:0:0::/64");
    expect(addressGroup(undefined)).toBe("unknown");
  });

  it("strips the port from the library's peer address", () => {
    expect(peerAddressGroup("127.0.0.1:4433")).toBe("127.0.0.1");
    expect(peerAddressGroup("::ffff:127.0.0.1:51000")).toBe("127.0.0.1");
    expect(peerAddressGroup("2001:db8::7:51000")).toBe("2001:db8:0:0::/64");
    expect(peerAddressGroup("[2001:db8::7]:51000")).toBe("2001:db8:0:0::/64");
  });
});

describe("KeyedBudget", () => {
  it("refuses beyond the per-key and the total limit, and gives slots back", () => {
    const budget = new KeyedBudget({ total: 3, perKey: 2 });
    expect(budget.tryTake("a")).toBe(true);
    expect(budget.tryTake("a")).toBe(true);
    expect(budget.check("a")).toBe("per-key");
    expect(budget.tryTake("a")).toBe(false);
    expect(budget.tryTake("b")).toBe(true);
    expect(budget.check("c")).toBe("total");
    budget.release("a");
    expect(budget.tryTake("c")).toBe(true);
    budget.release("nobody");
    expect(budget.total).toBe(3);
  });
});
