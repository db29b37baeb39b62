/** Browse origin labels: every IPv4/IPv6 address or host name and port maps to one DNS label and back. */
import { describe, expect, it } from "vitest";
import {
  browseOrigin,
  decodeTarget,
  encodeTarget,
  loopbackOriginBase,
  parseAddress,
  publicOriginBase,
  targetOfOrigin,
} from "../src/browse/target.js";

describe("Browse origin labels", () => {
  it("writes readable labels and reads them back", () => {
    const cases = [
      [{ host: "10.79.0.1", port: 8080 }, "v4-8080-10-79-0-1"],
      [{ host: "fd79::1", port: 80 }, "v6-80-fd79-0-0-0-0-0-0-1"],
      [{ host: "::ffff:10.0.0.1", port: 80 }, "v6-80-0-0-0-0-0-ffff-a00-1"],
      [{ host: "demo.wiregate", port: 80 }, "dn-80-demo-wiregate"],
      [{ host: "my-app.corp", port: 3000 }, "dn-3000-my--app-corp"],
    ] as const;
    for (const [target, label] of cases) {
      expect(encodeTarget(target)).toBe(label);
      expect(label.length).toBeLessThanOrEqual(63);
      expect(encodeTarget(decodeTarget(label)!)).toBe(label);
    }
    expect(decodeTarget("v6-80-fd79-0-0-0-0-0-0-1")).toEqual({ host: "fd79::1", port: 80 });
    expect(decodeTarget("dn-3000-my--app-corp")).toEqual({ host: "my-app.corp", port: 3000 });
  });

  it("maps every address to one label and each label to one address", () => {
    // The longest IPv6 label fits, with the longest port.
    const longest = encodeTarget({ host: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", port: 65535 });
    expect(longest.length).toBeLessThanOrEqual(63);
    // Other spellings of the same address give the same label.
    expect(encodeTarget({ host: "FD79:0:0::1", port: 80 })).toBe(
      encodeTarget({ host: "[fd79::0001]", port: 80 }),
    );
    // A label with another spelling (leading zeros, upper case, port 080) is no label.
    for (const label of ["v6-80-fd79-0-0-0-0-0-0-01", "V4-80-10-0-0-1", "v4-080-10-0-0-1"])
      expect(decodeTarget(label)).toBeUndefined();
  });

  it("refuses garbage and says why", () => {
    for (const label of [
      "",
      "v4-80-10-0-0",
      "v4-80-300-0-0-1",
      "v4-0-10-0-0-1",
      "xx-80-a",
      "dn-80-a--",
      "v6-80-1-2",
    ])
      expect(decodeTarget(label)).toBeUndefined();
    expect(() => encodeTarget({ host: "10.0.0.1", port: 0 })).toThrow(/port 0/);
    expect(() => encodeTarget({ host: "a_b", port: 80 })).toThrow(/neither an IP address/);
    expect(() => encodeTarget({ host: `${"a".repeat(60)}.corp`, port: 80 })).toThrow(/too long/);
    expect(parseAddress("https://10.0.0.1/")).toEqual({
      error: expect.stringMatching(/^HTTPS inside the tunnel cannot work/),
    });
    expect(parseAddress("ftp://10.0.0.1/")).toEqual({ error: "only http:// addresses, not ftp:" });
  });

  it("puts targets on origins of the page's own site at wiregate.localhost", () => {
    const base = loopbackOriginBase({
      protocol: "http:",
      hostname: "wiregate.localhost",
      port: "4480",
    })!;
    const target = { host: "10.79.0.1", port: 8080 };
    const origin = browseOrigin(base, target);
    expect(origin).toBe("http://v4-8080-10-79-0-1.wiregate.localhost:4480");
    expect(targetOfOrigin(base, origin)).toEqual(target);
    // Another port, scheme or depth is not a Browse origin of this page.
    for (const other of [
      "http://v4-8080-10-79-0-1.wiregate.localhost:4481",
      "https://v4-8080-10-79-0-1.wiregate.localhost:4480",
      "http://a.v4-8080-10-79-0-1.wiregate.localhost:4480",
      "http://wiregate.localhost:4480",
    ])
      expect(targetOfOrigin(base, other)).toBeUndefined();
    expect(loopbackOriginBase({ protocol: "http:", hostname: "127.0.0.1", port: "4480" })).toEqual({
      scheme: "http:",
      base: "localhost",
      port: ":4480",
    });
    expect(
      loopbackOriginBase({ protocol: "https:", hostname: "relay.example.org", port: "" }),
    ).toBeUndefined();
    expect(parseAddress("10.79.0.1:8080/a?b#c")).toEqual({ target, path: "/a?b#c" });
  });

  it("puts targets on https origins under a public relay's Browse domain, at the page's port", () => {
    const base = publicOriginBase({ protocol: "https:", port: "" }, "Browse.Relay.Example.org")!;
    expect(base).toEqual({ scheme: "https:", base: "browse.relay.example.org", port: "" });
    const target = { host: "10.79.0.1", port: 8080 };
    const origin = browseOrigin(base, target);
    expect(origin).toBe("https://v4-8080-10-79-0-1.browse.relay.example.org");
    expect(targetOfOrigin(base, origin)).toEqual(target);
    for (const other of [
      "http://v4-8080-10-79-0-1.browse.relay.example.org",
      "https://v4-8080-10-79-0-1.browse.relay.example.org:8443",
      "https://v4-8080-10-79-0-1.relay.example.org",
    ])
      expect(targetOfOrigin(base, other)).toBeUndefined();
    expect(publicOriginBase({ protocol: "https:", port: "8443" }, "browse.relay.test")?.port).toBe(
      ":8443",
    );
    // No domain, a page over plain HTTP, or what is no host name: no Browse origins.
    expect(publicOriginBase({ protocol: "https:", port: "" }, "")).toBeUndefined();
    expect(publicOriginBase({ protocol: "http:", port: "" }, "browse.example.org")).toBeUndefined();
    expect(publicOriginBase({ protocol: "https:", port: "" }, "evil.org/x")).toBeUndefined();
    expect(publicOriginBase({ protocol: "https:", port: "" }, "localhost")).toBeUndefined();
  });
});
