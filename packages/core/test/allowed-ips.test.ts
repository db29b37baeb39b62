import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AllowedIps } from "../src/allowed-ips.js";
import { formatCidr, type IpFamily, type IpPrefix, maskPrefix, parseCidr } from "../src/ip.js";

function cidr(text: string): IpPrefix {
  const result = parseCidr(text);
  if (!result.ok) throw new Error(result.error);
  return result.prefix;
}

function address(text: string): [IpFamily, Uint8Array] {
  const p = cidr(text);
  return [p.family, p.bytes];
}

/** Brute-force reference: scan every route, keep the longest containing prefix. */
class Reference<T> {
  routes = new Map<string, { prefix: IpPrefix; value: T }>();

  insert(prefix: IpPrefix, value: T) {
    const masked = maskPrefix(prefix);
    this.routes.set(formatCidr(masked), { prefix: masked, value });
  }

  removeByValue(value: T) {
    for (const [key, route] of this.routes) if (route.value === value) this.routes.delete(key);
  }

  lookup(family: IpFamily, bytes: Uint8Array): T | undefined {
    let best: { prefix: IpPrefix; value: T } | undefined;
    for (const route of this.routes.values()) {
      if (route.prefix.family !== family) continue;
      if (best && best.prefix.length >= route.prefix.length) continue;
      const probe = maskPrefix({ family, bytes, length: route.prefix.length });
      if (probe.bytes.every((b, i) => b === route.prefix.bytes[i])) best = route;
    }
    return best?.value;
  }

  entries(value: T): string[] {
    return [...this.routes.values()]
      .filter((r) => r.value === value)
      .map((r) => formatCidr(r.prefix))
      .sort();
  }
}

describe("AllowedIps", () => {
  it("finds the longest matching prefix", () => {
    const table = new AllowedIps<string>();
    table.insert(cidr("0.0.0.0/0"), "default");
    table.insert(cidr("10.0.0.0/8"), "ten");
    table.insert(cidr("10.1.0.0/16"), "ten-one");
    table.insert(cidr("10.1.2.3/32"), "host");
    table.insert(cidr("::/0"), "default6");
    table.insert(cidr("fd00::/8"), "ula");
    expect(table.lookup(...address("10.1.2.3"))).toBe("host");
    expect(table.lookup(...address("10.1.2.4"))).toBe("ten-one");
    expect(table.lookup(...address("10.2.0.1"))).toBe("ten");
    expect(table.lookup(...address("11.0.0.1"))).toBe("default");
    expect(table.lookup(...address("fd12::1"))).toBe("ula");
    expect(table.lookup(...address("2001:db8::1"))).toBe("default6");
  });

  it("keeps the families apart", () => {
    const table = new AllowedIps<string>();
    table.insert(cidr("0.0.0.0/0"), "v4");
    expect(table.lookup(...address("::"))).toBeUndefined();
    expect(table.lookup(...address("1.2.3.4"))).toBe("v4");
  });

  it("ignores host bits and moves a re-inserted prefix to the new value", () => {
    const table = new AllowedIps<string>();
    table.insert(cidr("10.0.0.77/24"), "a");
    expect(table.entries("a").map(formatCidr)).toEqual(["10.0.0.0/24"]);
    table.insert(cidr("10.0.0.0/24"), "b");
    expect(table.entries("a")).toEqual([]);
    expect(table.entries("b").map(formatCidr)).toEqual(["10.0.0.0/24"]);
    expect(table.lookup(...address("10.0.0.9"))).toBe("b");
  });

  it("removes every prefix of a value and keeps the others reachable", () => {
    const table = new AllowedIps<string>();
    table.insert(cidr("10.0.0.0/8"), "a");
    table.insert(cidr("10.1.0.0/16"), "b");
    table.insert(cidr("10.1.1.0/24"), "a");
    table.insert(cidr("10.1.1.128/25"), "b");
    table.removeByValue("a");
    expect(table.entries("a")).toEqual([]);
    expect(table.lookup(...address("10.1.1.1"))).toBe("b");
    expect(table.lookup(...address("10.1.1.200"))).toBe("b");
    expect(table.lookup(...address("10.2.0.0"))).toBeUndefined();
    table.removeByValue("b");
    expect(table.lookup(...address("10.1.1.200"))).toBeUndefined();
  });

  it("looks up straight from a packet header at an offset", () => {
    const table = new AllowedIps<number>();
    table.insert(cidr("192.168.0.0/16"), 7);
    const header = new Uint8Array(20);
    header.set([192, 168, 4, 4], 16);
    expect(table.lookup(4, header, 16)).toBe(7);
    expect(table.lookup(4, header, 12)).toBeUndefined();
    expect(() => table.lookup(4, header, 17)).toThrow(RangeError);
  });

  it("rejects caller mistakes with RangeError", () => {
    const table = new AllowedIps<number>();
    expect(() => table.insert({ family: 4, bytes: new Uint8Array(16), length: 8 }, 1)).toThrow(
      RangeError,
    );
    expect(() => table.insert({ family: 6, bytes: new Uint8Array(16), length: 129 }, 1)).toThrow(
      RangeError,
    );
    expect(() => table.insert({ family: 4, bytes: new Uint8Array(4), length: 1.5 }, 1)).toThrow(
      RangeError,
    );
  });

  it("agrees with a brute-force reference under random inserts, removals and lookups", () => {
    // Few distinct leading bits so prefixes overlap and nest a lot.
    const v4Bytes = fc.tuple(
      fc.constantFrom(10, 11),
      fc.constantFrom(0, 1, 128, 255),
      fc.nat(255),
      fc.nat(255),
    );
    const v4 = fc.record({
      family: fc.constant(4 as const),
      bytes: v4Bytes.map((b) => Uint8Array.from(b)),
      length: fc.integer({ min: 0, max: 32 }),
    });
    const v6 = fc.record({
      family: fc.constant(6 as const),
      bytes: fc
        .tuple(fc.constantFrom(0xfd, 0x20), fc.uint8Array({ minLength: 15, maxLength: 15 }))
        .map(([first, rest]) => Uint8Array.from([first, ...rest.map((b) => b & 0x81)])),
      length: fc.integer({ min: 0, max: 128 }),
    });
    const prefix = fc.oneof(v4, v6);
    const op = fc.oneof(
      fc.record({ kind: fc.constant("insert" as const), prefix, value: fc.nat(4) }),
      fc.record({ kind: fc.constant("remove" as const), value: fc.nat(4) }),
      fc.record({ kind: fc.constant("lookup" as const), prefix }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const table = new AllowedIps<number>();
        const reference = new Reference<number>();
        for (const o of ops) {
          if (o.kind === "insert") {
            table.insert(o.prefix, o.value);
            reference.insert(o.prefix, o.value);
          } else if (o.kind === "remove") {
            table.removeByValue(o.value);
            reference.removeByValue(o.value);
          } else {
            const { family, bytes } = o.prefix;
            expect(table.lookup(family, bytes)).toBe(reference.lookup(family, bytes));
          }
        }
        for (let value = 0; value <= 4; value++) {
          expect(table.entries(value).map(formatCidr).sort()).toEqual(reference.entries(value));
        }
        // Every stored route is found by its own address with the longest-match winner.
        for (const { prefix } of reference.routes.values()) {
          expect(table.lookup(prefix.family, prefix.bytes)).toBe(
            reference.lookup(prefix.family, prefix.bytes),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});
