// The tunnel's resolver (src/dns/) over a fake transport, on virtual time: answers, search
// domains, the TTL cache with its caps and RFC 2308 negative caching, retries over the servers,
// clear errors (NXDOMAIN, SERVFAIL, timeout, garbage), spoofed and stray datagrams ignored, random
// IDs and ports from the caller's random source, and a property test of the response path: any
// bytes at all never make it throw or hang.
import { deterministicRandom } from "@wiregate/core";
import { Buffer } from "buffer";
import dnsPacket from "dns-packet";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DnsCache } from "../src/dns/cache.js";
import { decodeResponse, encodeQuery, MAX_ADDRESSES } from "../src/dns/message.js";
import {
  DNS_PORT,
  DnsError,
  type DnsTransport,
  Resolver,
  type ResolverOptions,
} from "../src/dns/resolver.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const clock = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

type Query = dnsPacket.DecodedPacket & { questions: dnsPacket.Question[] };
/** What a fake server does with a query: datagrams to send back (none: silence). */
type Server = (query: Query) => Uint8Array[];

/** Servers by address; each answers after `delayMs` of virtual time, to the port asked from. */
function fakeNet(servers: Record<string, Server>, delayMs = 10) {
  const ports = new Map<number, (from: string, port: number, data: Uint8Array) => void>();
  const sent: { server: string; port: number; from: number; query: Query }[] = [];
  const transport: DnsTransport = {
    bind(port, receive) {
      if (ports.has(port)) throw new Error(`UDP port ${port} is already bound`);
      ports.set(port, receive);
      return {
        send(server, serverPort, data) {
          const query = dnsPacket.decode(Buffer.from(data)) as Query;
          sent.push({ server, port: serverPort, from: port, query });
          const replies = servers[server]?.(query) ?? [];
          for (const reply of replies)
            setTimeout(() => ports.get(port)?.(server, DNS_PORT, reply), delayMs);
        },
        close: () => ports.delete(port),
      };
    },
  };
  /** A datagram to every open port, from anyone. */
  const inject = (from: string, fromPort: number, data: Uint8Array) => {
    for (const receive of [...ports.values()]) receive(from, fromPort, data);
  };
  return { transport, sent, ports, inject };
}

function resolver(transport: DnsTransport, options: Partial<ResolverOptions> = {}) {
  return new Resolver({
    servers: ["10.0.0.53"],
    transport,
    clock,
    random: deterministicRandom("dns"),
    ...options,
  });
}

type Records = Record<string, { A?: string[]; AAAA?: string[]; ttl?: number }>;

/** An authoritative server for `records`; other names NXDOMAIN with an SOA (MINIMUM `negTtl`). */
function zone(records: Records, negTtl = 30): Server {
  return (query) => {
    const q = query.questions[0]!;
    const entry = records[q.name.toLowerCase()];
    const found = entry?.[q.type as "A" | "AAAA"] ?? [];
    const soa = {
      type: "SOA" as const,
      name: "wg.test",
      ttl: 3600,
      data: {
        mname: "ns.wg.test",
        rname: "admin.wg.test",
        serial: 1,
        refresh: 60,
        retry: 60,
        expire: 60,
        minimum: negTtl,
      },
    };
    return [
      encode({
        type: "response",
        id: query.id,
        flags: (entry ? 0 : 3) | dnsPacket.AUTHORITATIVE_ANSWER,
        questions: [q],
        answers: found.map((data) => ({
          type: q.type as "A",
          name: q.name,
          ttl: entry?.ttl ?? 60,
          data,
        })),
        authorities: found.length ? [] : [soa],
      }),
    ];
  };
}

const encode = (p: dnsPacket.Packet) => new Uint8Array(dnsPacket.encode(p));

/** Runs `promise` to its end on virtual time. */
async function settle<T>(promise: Promise<T>): Promise<T> {
  const outcome = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  let done = false;
  void outcome.then(() => (done = true));
  for (let i = 0; i < 1000 && !done; i++) await vi.advanceTimersByTimeAsync(50);
  const result = await outcome;
  if ("error" in result) throw result.error;
  return result.value;
}

const RECORDS: Records = {
  "web.wg.test": { A: ["10.77.0.5"], AAAA: ["fd77::5"], ttl: 30 },
  "v4.wg.test": { A: ["10.77.0.6"] },
};

describe("the tunnel's resolver", () => {
  it("resolves A and AAAA with their TTLs, then answers from the cache until the TTL ends", async () => {
    const net = fakeNet({ "10.0.0.53": zone(RECORDS) });
    const r = resolver(net.transport);
    const first = await settle(r.resolve("web.wg.test"));
    expect(first).toEqual({
      query: "web.wg.test",
      name: "web.wg.test",
      addresses: [
        { address: "10.77.0.5", type: "A", ttl: 30 },
        { address: "fd77::5", type: "AAAA", ttl: 30 },
      ],
      cached: false,
    });
    expect(net.sent).toHaveLength(2);
    vi.advanceTimersByTime(20_000);
    const again = await settle(r.resolve("WEB.wg.test"));
    expect(again.cached).toBe(true);
    expect(again.addresses[0]!.ttl).toBeLessThanOrEqual(10);
    expect(net.sent).toHaveLength(2);
    vi.advanceTimersByTime(10_001);
    expect((await settle(r.resolve("web.wg.test"))).cached).toBe(false);
    expect(net.sent).toHaveLength(4);
  });

  it("tries the search domains of the DNS line for a name without a dot", async () => {
    const net = fakeNet({ "10.0.0.53": zone(RECORDS) });
    const r = resolver(net.transport, { search: ["other.test", "wg.test"] });
    const found = await settle(r.resolve("web"));
    expect(found.name).toBe("web.wg.test");
    expect(net.sent.map((s) => s.query.questions[0]!.name)).toEqual([
      "web.other.test",
      "web.other.test",
      "web.wg.test",
      "web.wg.test",
    ]);
    // A name with a dot is tried as is first; a trailing dot means "as is only".
    await expect(settle(r.resolve("nobody.wg.test."))).rejects.toThrow(
      "nobody.wg.test.: no such name (NXDOMAIN; tried nobody.wg.test)",
    );
  });

  it("caches NXDOMAIN for the SOA's MINIMUM, capped, and not without an SOA (RFC 2308)", async () => {
    const net = fakeNet({ "10.0.0.53": zone(RECORDS, 100_000) });
    const r = resolver(net.transport, { cache: { maxNegativeTtl: 120 } });
    const error = await settle(r.resolve("gone.wg.test")).catch((e: DnsError) => e);
    expect(error).toBeInstanceOf(DnsError);
    expect((error as DnsError).kind).toBe("nxdomain");
    expect(net.sent).toHaveLength(2);
    vi.advanceTimersByTime(119_000);
    await settle(r.resolve("gone.wg.test")).catch(() => {});
    expect(net.sent).toHaveLength(2);
    vi.advanceTimersByTime(1_001);
    await settle(r.resolve("gone.wg.test")).catch(() => {});
    expect(net.sent).toHaveLength(4);

    const cache = new DnsCache();
    expect(cache.set("x", "A", { kind: "nxdomain" }, undefined, 0)).toBe(0);
    expect(cache.get("x", "A", 0)).toBeUndefined();
    // A huge TTL is capped too.
    expect(cache.set("y", "A", { kind: "addresses", addresses: ["1.2.3.4"] }, 2 ** 31 - 1, 0)).toBe(
      cache.limits.maxTtl,
    );
  });

  it("says NODATA apart from NXDOMAIN, and takes the one family there is", async () => {
    const net = fakeNet({ "10.0.0.53": zone({ ...RECORDS, "empty.wg.test": {} }) });
    const r = resolver(net.transport);
    const v4 = await settle(r.resolve("v4.wg.test"));
    expect(v4.addresses).toEqual([{ address: "10.77.0.6", type: "A", ttl: 60 }]);
    await expect(settle(r.resolve("empty.wg.test"))).rejects.toThrow(
      "empty.wg.test has no IPv4 or IPv6 address",
    );
  });

  it("retries, then moves to the next server, then says which servers did not answer", async () => {
    let silent = 0;
    const net = fakeNet({
      "10.0.0.53": () => {
        silent++;
        return [];
      },
      "10.0.0.54": zone(RECORDS),
    });
    const r = resolver(net.transport, { servers: ["10.0.0.53", "10.0.0.54"] });
    expect((await settle(r.resolve("web.wg.test"))).addresses).toHaveLength(2);
    expect(silent).toBe(2);
    const dead = resolver(fakeNet({}).transport, { servers: ["10.0.0.1", "fd00::1"] });
    const started = Date.now();
    const error = (await settle(dead.resolve("web.wg.test")).catch((e) => e)) as DnsError;
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe(
      "no answer for web.wg.test (A) from 10.0.0.1, fd00::1 (2 tries each, 2 s apart)",
    );
    // Two rounds over two servers, 2 s each, A and AAAA at once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(8000);
    expect(Date.now() - started).toBeLessThan(8200);
    expect(dead.stats.pending).toBe(0);
  });

  it("says SERVFAIL and REFUSED clearly", async () => {
    const failing =
      (rcode: number): Server =>
      (q) => [encode({ type: "response", id: q.id, flags: rcode, questions: q.questions })];
    const r = resolver(fakeNet({ "10.0.0.53": failing(2) }).transport);
    await expect(settle(r.resolve("web.wg.test"))).rejects.toThrow(
      "DNS server 10.0.0.53 could not answer for web.wg.test (A): SERVFAIL",
    );
    const refused = resolver(fakeNet({ "10.0.0.53": failing(5) }).transport);
    await expect(settle(refused.resolve("x.test"))).rejects.toThrow(/: REFUSED$/);
    // In a search, NXDOMAIN for one name says more than a refusal of another.
    const mixed = resolver(
      fakeNet({
        "10.0.0.53": (q) => (q.questions[0]!.name === "gone" ? failing(5)(q) : zone(RECORDS)(q)),
      }).transport,
      { search: ["wg.test"] },
    );
    await expect(settle(mixed.resolve("gone"))).rejects.toThrow(
      "gone: no such name (NXDOMAIN; tried gone.wg.test)",
    );
  });

  it("drops spoofed and stray datagrams and keeps waiting for the real answer", async () => {
    const net = fakeNet({
      "10.0.0.53": (q) => {
        const real = zone(RECORDS)(q)[0]!;
        // Before the real answer: a wrong ID, another question, garbage with its ID.
        const wrongId = encode({
          type: "response",
          id: (q.id! + 1) & 0xffff,
          questions: q.questions,
          answers: [{ type: "A", name: q.questions[0]!.name, data: "6.6.6.6" }],
        });
        const otherQuestion = encode({
          type: "response",
          id: q.id,
          questions: [{ type: "A", name: "evil.test" }],
          answers: [{ type: "A", name: "evil.test", data: "6.6.6.6" }],
        });
        const garbage = Uint8Array.of(q.id! >> 8, q.id! & 0xff, 0x81, 0x80, 0, 1, 0, 9, 0, 0, 0);
        return [wrongId, otherQuestion, garbage, real];
      },
    });
    const r = resolver(net.transport);
    const lookup = r.resolve("web.wg.test");
    // From another address or port: dropped before it is even decoded.
    await vi.advanceTimersByTimeAsync(5);
    const answer = zone({ "web.wg.test": { A: ["6.6.6.6"] } });
    for (const s of net.sent) {
      net.inject("10.0.0.99", DNS_PORT, answer(s.query)[0]!);
      net.inject("10.0.0.53", 5353, answer(s.query)[0]!);
    }
    const found = await settle(lookup);
    expect(found.addresses.map((a) => a.address)).toEqual(["10.77.0.5", "fd77::5"]);
    // Per query: 4 injected (2 queries × 2 from elsewhere), the wrong ID and the other question.
    expect(r.stats).toMatchObject({ unrelated: 12, garbage: 2, pending: 0 });
  });

  it("reports an answer that never made sense as garbage, after the timeout", async () => {
    const net = fakeNet({
      "10.0.0.53": (q) => [
        Uint8Array.of(q.id! >> 8, q.id! & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 0x77),
      ],
    });
    const r = resolver(net.transport, { attempts: 1 });
    await expect(settle(r.resolve("web.wg.test"))).rejects.toThrow(
      /^DNS server 10\.0\.0\.53 sent no usable answer for web\.wg\.test \(A\): undecodable/,
    );
  });

  it("draws query IDs and source ports from the caller's random source", async () => {
    const ids = (seed: string) => {
      const net = fakeNet({ "10.0.0.53": zone(RECORDS) });
      const r = resolver(net.transport, { random: deterministicRandom(seed) });
      return settle(r.resolve("web.wg.test")).then(() => net.sent.map((s) => [s.query.id, s.from]));
    };
    const a = await ids("one");
    expect(await ids("one")).toEqual(a);
    const b = await ids("two");
    expect(b).not.toEqual(a);
    for (const [, port] of [...a, ...b]) expect(port).toBeGreaterThanOrEqual(49152);
    expect(new Set(a.map(([id]) => id)).size).toBe(2);
  });

  it("answers address literals without a query, and refuses what is not a host name", async () => {
    const net = fakeNet({});
    const r = resolver(net.transport, { servers: [] });
    expect((await r.resolve("[FD77::1]")).addresses).toEqual([
      { address: "fd77::1", type: "AAAA", ttl: 0 },
    ]);
    expect((await r.resolve("10.1.2.3")).addresses[0]!.address).toBe("10.1.2.3");
    await expect(r.resolve("web")).rejects.toThrow(/no DNS server/);
    await expect(r.resolve("a..b")).rejects.toThrow("'a..b' is not a host name: an empty label");
    await expect(r.resolve("x/y")).rejects.toThrow(/is not a host name/);
    expect(net.sent).toHaveLength(0);
  });

  it("keeps its pending queries and its cache bounded", async () => {
    const net = fakeNet({ "10.0.0.53": () => [] });
    const r = resolver(net.transport, { maxPending: 4, attempts: 1 });
    const lookups = Array.from({ length: 10 }, (_, i) =>
      r.resolve(`n${i}.wg.test`).catch((e: DnsError) => e.kind),
    );
    // Each name is two queries (A and AAAA): two names fit, the others are refused at once.
    await vi.advanceTimersByTimeAsync(0);
    expect(r.stats.pending).toBe(4);
    expect(net.ports.size).toBe(4);
    await vi.advanceTimersByTimeAsync(2_100);
    expect(await Promise.all(lookups)).toEqual(["timeout", "timeout", ...Array(8).fill("busy")]);
    expect(r.stats.pending).toBe(0);
    expect(net.ports.size).toBe(0);

    const cache = new DnsCache({ maxEntries: 3 });
    for (let i = 0; i < 10; i++)
      cache.set(`n${i}`, "A", { kind: "addresses", addresses: ["1.1.1.1"] }, 60, 0);
    expect(cache.size).toBe(3);
    expect(cache.get("n9", "A", 0)).toBeDefined();
    expect(cache.get("n0", "A", 0)).toBeUndefined();
  });

  it("keeps at most MAX_ADDRESSES of a huge answer, and follows a CNAME inside it", () => {
    const q = { id: 7, name: "big.wg.test", type: "A" as const };
    const many = encode({
      type: "response",
      id: 7,
      questions: [{ type: "A", name: "big.wg.test" }],
      answers: [
        { type: "CNAME", name: "big.wg.test", ttl: 50, data: "real.wg.test" },
        ...Array.from({ length: 2000 }, (_, i) => ({
          type: "A" as const,
          name: "real.wg.test",
          ttl: 2 ** 31 + i, // above 2^31 − 1: read as 0 (RFC 2181)
          data: `10.${(i >> 8) & 255}.${i & 255}.1`,
        })),
      ],
    });
    const response = decodeResponse(many, q);
    expect(response).toMatchObject({ kind: "addresses", ttl: 0 });
    expect(response.kind === "addresses" && response.addresses.length).toBe(MAX_ADDRESSES);
  });

  it("never throws on any bytes as a response, and a resolver fed garbage always ends", async () => {
    const q = { id: 0x1234, name: "web.wg.test", type: "A" as const };
    const valid = zone(RECORDS)(dnsPacket.decode(Buffer.from(encodeQuery(q))) as Query)[0]!;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        decodeResponse(bytes, q);
        // The same bytes behind a matching header, so decoding is really attempted.
        const framed = new Uint8Array(12 + bytes.length);
        framed.set(valid.subarray(0, 12));
        framed.set(bytes, 12);
        decodeResponse(framed, q);
      }),
      { numRuns: 2000 },
    );
    // Mutations of a valid answer: decoded to something or refused, never a throw.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
          maxLength: 8,
        }),
        (edits) => {
          const bytes = valid.slice();
          for (const [at, value] of edits) bytes[at] = value;
          decodeResponse(bytes, q);
        },
      ),
      { numRuns: 2000 },
    );
    // The whole resolver against a server that sends random bytes: every lookup settles.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 4 }),
        async (replies) => {
          const net = fakeNet({
            "10.0.0.53": (query) =>
              replies.map((reply) => {
                const framed = new Uint8Array(Math.max(reply.length, 2));
                framed.set(reply);
                framed[0] = query.id! >> 8;
                framed[1] = query.id! & 0xff;
                return framed;
              }),
          });
          const r = resolver(net.transport, { attempts: 1 });
          const outcome = await settle(r.resolve("web.wg.test")).then(
            () => "answer",
            (e: unknown) => (e instanceof DnsError ? e.kind : `threw ${String(e)}`),
          );
          expect(outcome).not.toMatch(/^threw/);
          expect(r.stats.pending).toBe(0);
          expect(net.ports.size).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("DNS queries", () => {
  it("are recursive queries for one name and type, class IN", () => {
    const query = dnsPacket.decode(
      Buffer.from(encodeQuery({ id: 513, name: "web", type: "AAAA" })),
    );
    expect(query).toMatchObject({
      id: 513,
      type: "query",
      flag_rd: true,
      questions: [{ name: "web", type: "AAAA", class: "IN" }],
    });
  });
});
