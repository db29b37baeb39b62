import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatWgQuickConfig,
  formatWgQuickConfigError,
  type InterfaceConfig,
  type PeerConfig,
  parseEndpoint,
  parseWgQuickConfig,
  type WgQuickConfig,
  type WgQuickConfigError,
} from "../src/index.js";
import { formatCidr, formatIp, type IpAddress, type IpPrefix } from "../src/ip.js";
import { keyToBase64 } from "../src/keys.js";

const CAPTURES = new URL("../../../../shared/captures/", import.meta.url);

const KEY_A = keyToBase64(new Uint8Array(32).fill(1));
const KEY_B = keyToBase64(new Uint8Array(32).fill(2));
const KEY_C = keyToBase64(new Uint8Array(32).fill(3));

function parseOk(text: string): { config: WgQuickConfig; warnings: WgQuickConfigError[] } {
  const result = parseWgQuickConfig(text);
  if (!result.ok) throw new Error(result.errors.map(formatWgQuickConfigError).join("\n"));
  return result;
}

function errorsOf(text: string): string[] {
  const result = parseWgQuickConfig(text);
  if (result.ok) throw new Error("expected errors");
  return result.errors.map(formatWgQuickConfigError);
}

describe("parseWgQuickConfig on the captures' configurations", () => {
  const files: { name: string; text: string }[] = [];
  for (const dir of readdirSync(CAPTURES, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const file of readdirSync(new URL(`${dir.name}/`, CAPTURES))) {
      if (file.endsWith(".conf")) {
        files.push({
          name: `${dir.name}/${file}`,
          text: readFileSync(new URL(`${dir.name}/${file}`, CAPTURES), "utf8"),
        });
      }
    }
  }

  it("reads every one cleanly and round-trips it", () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const { name, text } of files) {
      const { config, warnings } = parseOk(text);
      expect(warnings, name).toEqual([]);
      expect(config.peers, name).toHaveLength(1);
      expect(parseOk(formatWgQuickConfig(config)).config, name).toEqual(config);
    }
  });

  it("reads the psk capture's peer A exactly", () => {
    const { config } = parseOk(files.find((f) => f.name === "psk/wgA.conf")!.text);
    expect(keyToBase64(config.interface.privateKey)).toBe(
      "gFE1BLw6Gr532mA6gI0OmSaA6eh9PjDKM0QZEJvimHs=",
    );
    expect(config.interface.listenPort).toBe(51820);
    const peer = config.peers[0]!;
    expect(keyToBase64(peer.publicKey)).toBe("uNWc0rhpvYALWi4zo1rFSr+omn+GqZZTuf/rDfzGzTo=");
    expect(keyToBase64(peer.presharedKey!)).toBe("KbGO4Dgw5loKIjd/oJiHXTITXv8O3tEoOVn9WOWVLDo=");
    expect(peer.endpoint).toEqual({
      kind: "address",
      address: { family: 4, bytes: Uint8Array.from([10, 250, 0, 2]) },
      port: 51821,
    });
    expect(peer.allowedIps.map(formatCidr)).toEqual(["10.251.0.2/32"]);
  });
});

describe("parseWgQuickConfig", () => {
  const full = `# a wg-quick file
[interface]
privatekey = ${KEY_A}   # trailing comment
ListenPort=51820
Address = 10.0.0.1/24, fd00::1/64
ADDRESS = 10.0.1.1/24
DNS = 1.1.1.1, 2606:4700:4700::1111, corp.example
DNS = home.arpa
MTU = 1420
FwMark = 0x1234
Table = off
PostUp = iptables -A FORWARD -i %i -j ACCEPT
PostUp = echo second
SaveConfig = false

[PEER]
PublicKey = ${KEY_B}
PresharedKey = ${KEY_C}
AllowedIPs = 10.0.0.2/32
AllowedIPs = 192.168.0.0/16, ::/0
Endpoint = [2001:DB8::1]:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ${KEY_C}
Endpoint = vpn.example.com:443
PersistentKeepalive = off
`;

  it("reads every key, case-insensitively, accumulating lists", () => {
    const { config } = parseOk(full);
    const iface = config.interface;
    expect(iface.privateKey).toEqual(new Uint8Array(32).fill(1));
    expect(iface.listenPort).toBe(51820);
    expect(iface.addresses.map(formatCidr)).toEqual(["10.0.0.1/24", "fd00::1/64", "10.0.1.1/24"]);
    expect(iface.dns.map(formatIp)).toEqual(["1.1.1.1", "2606:4700:4700::1111"]);
    expect(iface.dnsSearch).toEqual(["corp.example", "home.arpa"]);
    expect(iface.mtu).toBe(1420);
    expect(iface.fwMark).toBe(0x1234);
    expect(iface.extras).toEqual([
      { key: "Table", value: "off" },
      { key: "PostUp", value: "iptables -A FORWARD -i %i -j ACCEPT" },
      { key: "PostUp", value: "echo second" },
      { key: "SaveConfig", value: "false" },
    ]);
    const [first, second] = config.peers;
    expect(first!.publicKey).toEqual(new Uint8Array(32).fill(2));
    expect(first!.presharedKey).toEqual(new Uint8Array(32).fill(3));
    expect(first!.allowedIps.map(formatCidr)).toEqual(["10.0.0.2/32", "192.168.0.0/16", "::/0"]);
    expect(first!.endpoint?.kind === "address" && formatIp(first!.endpoint.address)).toBe(
      "2001:db8::1",
    );
    expect(first!.persistentKeepaliveSeconds).toBe(25);
    expect(second!.endpoint).toEqual({ kind: "hostname", hostname: "vpn.example.com", port: 443 });
    expect(second!.persistentKeepaliveSeconds).toBe(0);
    expect(second!.allowedIps).toEqual([]);
  });

  it("warns, with lines, about wg-quick settings Wiregate does not use", () => {
    const { warnings } = parseOk(full);
    expect(warnings.map(formatWgQuickConfigError)).toEqual([
      "line 11: Table is a wg-quick setting not used by Wiregate (kept as written)",
      "line 12: PostUp is a wg-quick setting not used by Wiregate (kept as written)",
      "line 13: PostUp is a wg-quick setting not used by Wiregate (kept as written)",
      "line 14: SaveConfig is a wg-quick setting not used by Wiregate (kept as written)",
    ]);
  });

  it("round-trips through formatWgQuickConfig", () => {
    const { config } = parseOk(full);
    const text = formatWgQuickConfig(config);
    expect(parseOk(text).config).toEqual(config);
    expect(formatWgQuickConfig(parseOk(text).config)).toBe(text);
  });

  it("reports precise errors, all of them, by line", () => {
    const text = `[Interface]
PrivateKey = ${KEY_A}
ListenPort = 70000
Colour = blue
DNS = 1.1.1.1,,8.8.8.8

[Peer]
PublicKey = ${KEY_B}
AllowedIPs = 10.0.0.0/33
Endpoint = fd00::1:51820
PersistentKeepalive = -1
just some words

[Peer]
PublicKey = ${KEY_B}
PresharedKey = abc

[Peer]
AllowedIPs = 10.9.0.0/16

[Tunnel]
Whatever = 1
`;
    expect(errorsOf(text)).toEqual([
      "line 3: ListenPort: '70000' is not valid (ListenPort must be an integer 0–65535)",
      "line 4: unknown key 'Colour' in [Interface]",
      "line 5: DNS: empty item in the list '1.1.1.1,,8.8.8.8'",
      "line 9: AllowedIPs: '10.0.0.0/33' is not a valid prefix (IPv4 prefix length must be 0–32)",
      "line 10: Endpoint: 'fd00::1:51820': write an IPv6 endpoint in brackets, as [address]:port",
      `line 11: PersistentKeepalive: '-1' is not valid (PersistentKeepalive (or "off") must be an integer 0–65535)`,
      "line 12: expected 'Key = Value', found 'just some words'",
      "line 15: PublicKey: duplicate of the peer's on line 8",
      "line 16: PresharedKey: not a valid key (expected 44 base64 characters, got 3)",
      "line 18: [Peer] has no PublicKey",
      "line 21: unknown section [Tunnel] (expected [Interface] or [Peer])",
    ]);
  });

  it("requires an interface with a PrivateKey, and reports a bad key only once", () => {
    expect(errorsOf("")).toEqual(["line 1: missing [Interface] section"]);
    expect(errorsOf(`[Peer]\nPublicKey = ${KEY_B}\n`)).toEqual([
      "line 1: missing [Interface] section",
    ]);
    expect(errorsOf("# hi\n[Interface]\nListenPort = 1\n")).toEqual([
      "line 2: [Interface] has no PrivateKey",
    ]);
    expect(errorsOf("[Interface]\nPrivateKey = nope\n")).toEqual([
      "line 2: PrivateKey: not a valid key (expected 44 base64 characters, got 4)",
    ]);
    expect(errorsOf("[Interface]\nPrivateKey =\n")).toEqual(["line 2: PrivateKey: missing value"]);
    expect(errorsOf(`ListenPort = 1\n[Interface]\nPrivateKey = ${KEY_A}\n`)).toEqual([
      "line 1: ListenPort appears before any [Interface] or [Peer] section",
    ]);
  });

  it("checks MTU, FwMark, SaveConfig and DNS values", () => {
    const bad = (line: string) => errorsOf(`[Interface]\nPrivateKey = ${KEY_A}\n${line}\n`);
    expect(bad("MTU = 67")).toEqual([
      "line 3: MTU: '67' is not valid (MTU must be an integer 68–65535)",
    ]);
    expect(bad("FwMark = 0x123456789")).toEqual([
      `line 3: FwMark: '0x123456789' is not valid (expected "off" or an integer 0–4294967295, decimal or 0x hex)`,
    ]);
    expect(bad("SaveConfig = maybe")).toEqual([
      "line 3: SaveConfig: 'maybe' is not valid (expected true or false)",
    ]);
    expect(bad("DNS = 1.1.1")).toEqual([
      "line 3: DNS: '1.1.1' is not an IPv4 address (expected 4 dot-separated numbers)",
    ]);
    expect(bad("DNS = bad_domain!")).toEqual([
      "line 3: DNS: 'bad_domain!' is neither an IP address nor a valid search domain",
    ]);
    const fwOff = parseOk(`[Interface]\nPrivateKey = ${KEY_A}\nFwMark = off\n`).config.interface;
    expect(fwOff.fwMark).toBe(0);
  });

  it("warns when a single-valued key is set twice, keeping the last value like wg", () => {
    const { config, warnings } = parseOk(
      `[Interface]\nPrivateKey = ${KEY_A}\nListenPort = 1\nListenPort = 2\n`,
    );
    expect(config.interface.listenPort).toBe(2);
    expect(warnings.map(formatWgQuickConfigError)).toEqual([
      "line 4: ListenPort is set again; this value replaces the one on line 3",
    ]);
  });

  it("accepts CRLF line endings", () => {
    const { config } = parseOk(`[Interface]\r\nPrivateKey = ${KEY_A}\r\nListenPort = 7\r\n`);
    expect(config.interface.listenPort).toBe(7);
  });
});

describe("parseEndpoint", () => {
  it("reads the three forms", () => {
    expect(parseEndpoint("192.0.2.1:51820")).toEqual({
      ok: true,
      endpoint: {
        kind: "address",
        address: { family: 4, bytes: Uint8Array.from([192, 0, 2, 1]) },
        port: 51820,
      },
    });
    const v6 = parseEndpoint("[::1]:1");
    expect(v6.ok && v6.endpoint.kind === "address" && formatIp(v6.endpoint.address)).toBe("::1");
    expect(parseEndpoint("peer-1.example.org:65535")).toEqual({
      ok: true,
      endpoint: { kind: "hostname", hostname: "peer-1.example.org", port: 65535 },
    });
  });

  it("explains what is wrong", () => {
    const error = (text: string) => {
      const result = parseEndpoint(text);
      return result.ok ? "ok" : result.error;
    };
    expect(error("example.com")).toBe(
      "'example.com' has no port (expected host:port, [IPv6]:port or hostname:port)",
    );
    expect(error("example.com:0")).toBe(
      "'example.com:0': '0' is not valid (the port must be an integer 1–65535)",
    );
    expect(error("[::1]51820")).toBe("'[::1]51820' needs ':port' after ']'");
    expect(error("[::1:51820")).toBe("'[::1:51820' has no closing ']'");
    expect(error("[1.2.3.4]:5")).toBe("'[1.2.3.4]:5': inside brackets must be an IPv6 address");
    expect(error("[fe80::1%eth0]:5")).toMatch(/zone identifiers are not supported/);
    expect(error("1.2.3.999:5")).toBe(
      "'1.2.3.999:5': '1.2.3.999' is not an IPv4 address (999 is greater than 255)",
    );
    expect(error("-bad-.example:5")).toBe(
      "'-bad-.example:5': '-bad-.example' is not a valid hostname",
    );
    expect(error(":5")).toBe("':5' has no host");
  });
});

// ---- properties ---------------------------------------------------------------------------------

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const ipv4Arb = fc
  .uint8Array({ minLength: 4, maxLength: 4 })
  .map((bytes): IpAddress => ({ family: 4, bytes }));
const ipv6Arb = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((bytes): IpAddress => ({ family: 6, bytes }));
const ipArb = fc.oneof(ipv4Arb, ipv6Arb);
const prefixArb = ipArb.chain((a) =>
  fc
    .integer({ min: 0, max: a.family === 4 ? 32 : 128 })
    .map((length): IpPrefix => ({ ...a, length })),
);
const hostnameArb = fc.domain().filter((d) => !/^[0-9.]+$/.test(d));
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const interfaceArb: fc.Arbitrary<InterfaceConfig> = fc
  .record({
    privateKey: keyArb,
    listenPort: optional(fc.integer({ min: 0, max: 65535 })),
    addresses: fc.array(prefixArb, { maxLength: 3 }),
    dns: fc.array(ipArb, { maxLength: 2 }),
    dnsSearch: fc.array(hostnameArb, { maxLength: 2 }),
    mtu: optional(fc.integer({ min: 68, max: 65535 })),
    fwMark: optional(fc.nat(0xffffffff)),
    extras: fc.array(
      fc.oneof(
        fc.record({
          key: fc.constantFrom("PreUp", "PostUp", "PreDown", "PostDown"),
          value: fc.constantFrom("", "echo up", "ip rule add %i"),
        }),
        fc.record({ key: fc.constant("Table"), value: fc.constantFrom("off", "auto", "1234") }),
      ),
      { maxLength: 3 },
    ),
  })
  .map(dropUndefined);

const endpointArb = fc.oneof(
  fc.record({
    kind: fc.constant("address" as const),
    address: ipArb,
    port: fc.integer({ min: 1, max: 65535 }),
  }),
  fc.record({
    kind: fc.constant("hostname" as const),
    hostname: hostnameArb,
    port: fc.integer({ min: 1, max: 65535 }),
  }),
);

const peerArb: fc.Arbitrary<PeerConfig> = fc
  .record({
    publicKey: keyArb,
    presharedKey: optional(keyArb),
    allowedIps: fc.array(prefixArb, { maxLength: 4 }),
    endpoint: optional(endpointArb),
    persistentKeepaliveSeconds: optional(fc.integer({ min: 0, max: 65535 })),
  })
  .map(dropUndefined);

const configArb: fc.Arbitrary<WgQuickConfig> = fc.record({
  interface: interfaceArb,
  peers: fc.uniqueArray(peerArb, { maxLength: 4, selector: (p) => keyToBase64(p.publicKey) }),
});

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function checkOutcome(text: string): void {
  const lineCount = text.split("\n").length;
  const result = parseWgQuickConfig(text);
  const problems = result.ok ? result.warnings : result.errors;
  if (!result.ok) expect(result.errors.length).toBeGreaterThan(0);
  for (const p of problems) {
    expect(Number.isInteger(p.line)).toBe(true);
    expect(p.line).toBeGreaterThanOrEqual(1);
    expect(p.line).toBeLessThanOrEqual(lineCount);
    expect(p.message.length).toBeGreaterThan(0);
  }
  if (result.ok) expect(parseOk(formatWgQuickConfig(result.config)).config).toEqual(result.config);
}

describe("parseWgQuickConfig properties", () => {
  it("round-trips any configuration through formatWgQuickConfig", () => {
    fc.assert(
      fc.property(configArb, (config) => {
        const { config: back, warnings } = parseOk(formatWgQuickConfig(config));
        expect(back).toEqual(config);
        expect(warnings).toHaveLength(config.interface.extras.length);
      }),
      { numRuns: 200 },
    );
  });

  it("never throws on random text; errors carry real line numbers", () => {
    const lineArb = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        "[Interface]",
        "[Peer]",
        "[peer]",
        "#",
        "=",
        "Key =",
        `PrivateKey = ${KEY_A}`,
        `PublicKey = ${KEY_B}`,
      ),
      fc
        .tuple(
          fc.constantFrom(
            "AllowedIPs",
            "Address",
            "DNS",
            "Endpoint",
            "ListenPort",
            "MTU",
            "FwMark",
            "PersistentKeepalive",
          ),
          fc.string({ maxLength: 30 }),
        )
        .map(([k, v]) => `${k} = ${v}`),
    );
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 15 }), (lines) => checkOutcome(lines.join("\n"))),
      { numRuns: 1000 },
    );
  });

  it("never throws on mutated valid configurations", () => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.string({ maxLength: 3 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (config, mutations) => {
          let text = formatWgQuickConfig(config);
          for (const [at, drop, insert] of mutations) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + insert + text.slice(i + drop);
          }
          checkOutcome(text);
        },
      ),
      { numRuns: 500 },
    );
  });
});
