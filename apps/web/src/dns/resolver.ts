/**
 * The tunnel's stub resolver: A and AAAA over UDP to the servers of the wg-quick `DNS =` line (or
 * the Connect screen's field), with the line's search domains, retries over the servers, a timeout
 * per try and a TTL cache (cache.ts). It does no I/O of its own: datagrams go through a
 * `DnsTransport` (netstack UDP in the tunnel worker, a fake in tests), time through a `Clock`, and
 * query IDs and source ports come from the caller's random source.
 *
 * Right after connect the tunnel may have no WireGuard session yet: a query waits in the device
 * until the handshake completes, and when the first initiation is lost WireGuard sends the next
 * only after REKEY_TIMEOUT (5 s), later than the tries would give up. So a try's clock runs only
 * while the tunnel has a session (`sessionUp`): one that times out without a session waits on,
 * and gets a whole `timeoutMs` once the session is there, for at most `handshakeWaitMs` from the
 * lookup's start; then the error says that the tunnel has no session.
 *
 * Bounded against a hostile server: one socket per query, at most `maxPending` queries in flight
 * (identical lookups share one), answers capped at MAX_ADDRESSES, TTLs capped by the cache, and a
 * datagram that is not the answer to the query on its port (wrong source, ID or question) is
 * dropped while the query keeps waiting (RFC 5452).
 */
import type { Clock } from "@wiregate/netstack";
import { type CachedAnswer, type CacheLimits, DnsCache } from "./cache.js";
import { decodeResponse, encodeQuery, type RecordType, type Response } from "./message.js";

export const DNS_PORT = 53;

/** A UDP port of the transport; datagrams to it go to the `receive` given at bind. */
export interface DnsSocket {
  send(server: string, port: number, data: Uint8Array): void;
  close(): void;
}

export interface DnsTransport {
  /** Binds UDP `port`; throws when it is taken. */
  bind(
    port: number,
    receive: (from: string, fromPort: number, data: Uint8Array) => void,
  ): DnsSocket;
}

export interface ResolverOptions {
  /** Server addresses (IPv4 or IPv6), tried in order. */
  servers: readonly string[];
  /** Search domains, tried in order for names with no dot (resolv.conf's ndots:1). */
  search?: readonly string[];
  transport: DnsTransport;
  clock: Clock;
  random: (n: number) => Uint8Array;
  /** Wait for one answer this long (ms; default 2000). */
  timeoutMs?: number;
  /** Rounds over every server (default 2). */
  attempts?: number;
  /** Queries in flight at most (default 64). */
  maxPending?: number;
  /** Whether the tunnel has a WireGuard session now (default: always). */
  sessionUp?: () => boolean;
  /**
   * How long a lookup waits for the tunnel's session at most (ms; default 16000: the first
   * initiation and two retries, REKEY_TIMEOUT plus jitter apart).
   */
  handshakeWaitMs?: number;
  cache?: Partial<CacheLimits>;
}

export type DnsErrorKind =
  | "invalid-name"
  | "no-server"
  | "nxdomain"
  | "nodata"
  | "timeout"
  | "failure"
  | "truncated"
  | "garbage"
  | "busy";

export class DnsError extends Error {
  readonly kind: DnsErrorKind;
  constructor(kind: DnsErrorKind, message: string) {
    super(message);
    this.name = "DnsError";
    this.kind = kind;
  }
}

export interface ResolvedAddress {
  address: string;
  type: RecordType;
  /** Seconds left in the cache (0: not cached, e.g. an address literal). */
  ttl: number;
}

export interface Resolution {
  /** The name as asked, and the full name that answered (after the search domains). */
  query: string;
  name: string;
  addresses: ResolvedAddress[];
  /** Every address came from the cache. */
  cached: boolean;
}

export interface ResolverStats {
  /** Datagrams sent (queries and their retries). */
  sent: number;
  /** Datagrams dropped: not from the server asked, or not the answer to the question asked. */
  unrelated: number;
  /** Answers that matched a question but could not be decoded. */
  garbage: number;
  /** Queries in flight now. */
  pending: number;
  cacheEntries: number;
}

type Lookup = { answer: CachedAnswer; ttl: number; cached: boolean; server?: string };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** Whether `host` is an IPv4 or IPv6 address literal (brackets allowed around IPv6). */
export function addressLiteral(host: string): { address: string; type: RecordType } | undefined {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (IPV4.test(bare)) return { address: bare, type: "A" };
  if (bare.includes(":") && /^[0-9a-f:.]+$/i.test(bare)) {
    try {
      return { address: new URL(`http://[${bare}]/`).hostname.slice(1, -1), type: "AAAA" };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export class Resolver {
  readonly #o: Required<Omit<ResolverOptions, "cache">>;
  readonly cache: DnsCache;
  readonly #inflight = new Map<string, Promise<Lookup>>();
  readonly #stats = { sent: 0, unrelated: 0, garbage: 0 };

  constructor(options: ResolverOptions) {
    this.#o = {
      search: [],
      timeoutMs: 2000,
      attempts: 2,
      maxPending: 64,
      sessionUp: () => true,
      handshakeWaitMs: 16_000,
      ...options,
    };
    this.cache = new DnsCache(options.cache);
  }

  get servers(): readonly string[] {
    return this.#o.servers;
  }
  get search(): readonly string[] {
    return this.#o.search;
  }

  get stats(): ResolverStats {
    return { ...this.#stats, pending: this.#inflight.size, cacheEntries: this.cache.size };
  }

  /** The addresses of `host` (a name, or an address literal returned as is). */
  async resolve(host: string): Promise<Resolution> {
    const query = host.trim();
    const literal = addressLiteral(query);
    if (literal) {
      return { query, name: literal.address, addresses: [{ ...literal, ttl: 0 }], cached: true };
    }
    const problem = nameProblem(query);
    if (problem) throw new DnsError("invalid-name", `'${query}' is not a host name: ${problem}`);
    if (this.#o.servers.length === 0) {
      throw new DnsError(
        "no-server",
        `cannot resolve ${query}: no DNS server (add a DNS = line to the config, or fill in the DNS field)`,
      );
    }
    const negative: string[] = [];
    let allNodata = true;
    let firstFailure: DnsError | undefined;
    for (const name of this.#candidates(query)) {
      const [a, aaaa] = await Promise.allSettled([
        this.#lookup(name, "A"),
        this.#lookup(name, "AAAA"),
      ]);
      const found = [a, aaaa].flatMap((r, i): ResolvedAddress[] =>
        r.status === "fulfilled" && r.value.answer.kind === "addresses"
          ? r.value.answer.addresses.map((address) => ({
              address,
              type: i === 0 ? "A" : "AAAA",
              ttl: r.value.ttl,
            }))
          : [],
      );
      if (found.length > 0) {
        const cached = [a, aaaa].every((r) => r.status === "fulfilled" && r.value.cached);
        return { query, name, addresses: found, cached };
      }
      const failed = [a, aaaa].find((r) => r.status === "rejected");
      if (failed) {
        // A silent server, or too many queries: no other name will do better. A server that
        // refused or failed one name of the search may still know the next one.
        const error = failed.reason as DnsError;
        if (error.kind === "timeout" || error.kind === "busy") throw error;
        firstFailure ??= error;
        continue;
      }
      const kinds = [a, aaaa].map((r) => (r as PromiseFulfilledResult<Lookup>).value.answer.kind);
      if (kinds.includes("nxdomain")) allNodata = false;
      negative.push(name);
    }
    // The names the servers said do not exist tell more than a refusal of another one.
    if (negative.length === 0 && firstFailure) throw firstFailure;
    if (allNodata) {
      throw new DnsError(
        "nodata",
        `${query} has no IPv4 or IPv6 address (tried ${negative.join(", ")})`,
      );
    }
    throw new DnsError(
      "nxdomain",
      `${query}: no such name (NXDOMAIN; tried ${negative.join(", ")})`,
    );
  }

  /** resolv.conf's order with ndots:1: a name with a dot as is first, one without last. */
  #candidates(query: string): string[] {
    if (query.endsWith(".")) return [query.slice(0, -1)];
    const searched = this.#o.search.map((domain) => `${query}.${domain.replace(/^\.|\.$/g, "")}`);
    return query.includes(".") ? [query, ...searched] : [...searched, query];
  }

  #lookup(name: string, type: RecordType): Promise<Lookup> {
    const hit = this.cache.get(name, type, this.#o.clock.now());
    if (hit) return Promise.resolve({ ...hit, cached: true });
    const key = `${type} ${name.toLowerCase()}`;
    const running = this.#inflight.get(key);
    if (running) return running;
    if (this.#inflight.size >= this.#o.maxPending) {
      return Promise.reject(
        new DnsError("busy", `too many DNS queries in flight (${this.#o.maxPending}); try again`),
      );
    }
    const lookup = this.#query(name, type).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, lookup);
    return lookup;
  }

  /** Every server, `attempts` rounds, until one gives a usable answer. */
  async #query(name: string, type: RecordType): Promise<Lookup> {
    const problems: { server: string; response: Response | Timeout }[] = [];
    const waitUntil = this.#o.clock.now() + this.#o.handshakeWaitMs;
    for (let round = 0; round < this.#o.attempts; round++) {
      for (const server of this.#o.servers) {
        const response = await this.#exchange(server, name, type, waitUntil);
        const { kind } = response;
        if (kind === "addresses" || kind === "nxdomain" || kind === "nodata") {
          const answer: CachedAnswer =
            kind === "addresses" ? { kind, addresses: response.addresses } : { kind };
          const ttl = this.cache.set(name, type, answer, response.ttl, this.#o.clock.now());
          return { answer, ttl, cached: false, server };
        }
        // No session after the whole wait: other servers and tries would wait in vain too.
        if ("noSession" in response && response.noSession)
          throw describeFailure(name, type, [{ server, response }], this.#o);
        problems.push({ server, response });
      }
    }
    throw describeFailure(name, type, problems, this.#o);
  }

  /**
   * One query to one server: its answer, or a timeout. Never rejects. Its clock runs while the
   * tunnel has a session: until `waitUntil`, a timeout without one waits on, and the first
   * timeout after a wait gives the query another `timeoutMs` (it left with the handshake).
   */
  #exchange(
    server: string,
    name: string,
    type: RecordType,
    waitUntil: number,
  ): Promise<Response | Timeout> {
    const { clock, random, transport, timeoutMs, sessionUp } = this.#o;
    const r = random(2);
    const id = (r[0]! << 8) | r[1]!;
    const question = { id, name, type };
    return new Promise((resolve) => {
      let garbage: string | undefined;
      let socket: DnsSocket | undefined;
      let timer: unknown;
      let waited = false;
      const finish = (r: Response | Timeout) => {
        clock.clearTimeout(timer);
        socket?.close();
        socket = undefined;
        resolve(r);
      };
      const receive = (from: string, fromPort: number, data: Uint8Array) => {
        if (!socket) return;
        if (fromPort !== DNS_PORT || !sameAddress(from, server)) {
          this.#stats.unrelated++;
          return;
        }
        const response = decodeResponse(data, question);
        if (response.kind === "unrelated") this.#stats.unrelated++;
        else if (response.kind === "garbage") {
          this.#stats.garbage++;
          garbage = response.reason;
        } else finish(response);
      };
      try {
        socket = bindRandomPort(transport, random, receive);
        const expire = () => {
          const up = sessionUp();
          if ((!up && clock.now() < waitUntil) || (up && waited)) {
            waited = !up;
            timer = clock.setTimeout(
              expire,
              up ? timeoutMs : Math.min(timeoutMs, waitUntil - clock.now()),
            );
            return;
          }
          finish({
            kind: "timeout",
            ...(garbage ? { garbage } : {}),
            ...(up ? {} : { noSession: true }),
          });
        };
        timer = clock.setTimeout(expire, timeoutMs);
        this.#stats.sent++;
        socket.send(server, DNS_PORT, encodeQuery(question));
      } catch (e) {
        finish({ kind: "failure", rcode: `cannot send (${(e as Error).message})` });
      }
    });
  }
}

/** A source port in 49152–65535 chosen by `random` (RFC 6056); a taken one is drawn again. */
function bindRandomPort(
  transport: DnsTransport,
  random: (n: number) => Uint8Array,
  receive: (from: string, fromPort: number, data: Uint8Array) => void,
): DnsSocket {
  for (let tries = 0; ; tries++) {
    const r = random(2);
    const port = 49152 + (((r[0]! << 8) | r[1]!) % 16384);
    try {
      return transport.bind(port, receive);
    } catch (e) {
      if (tries >= 16) throw e;
    }
  }
}

/** No answer in time; `noSession`: the tunnel had no WireGuard session when the try gave up. */
type Timeout = { kind: "timeout"; garbage?: string; noSession?: boolean };

function describeFailure(
  name: string,
  type: RecordType,
  problems: { server: string; response: Response | Timeout }[],
  o: { timeoutMs: number; attempts: number; servers: readonly string[]; handshakeWaitMs: number },
): DnsError {
  const of = `${name} (${type})`;
  if (problems.every((p) => p.response.kind === "timeout" && p.response.noSession)) {
    return new DnsError(
      "timeout",
      `no answer for ${of}: the tunnel has no WireGuard session (no handshake with the peer in ${o.handshakeWaitMs / 1000} s); check the peer's public key, its endpoint and that it is up`,
    );
  }
  const failure = problems.find((p) => p.response.kind === "failure");
  if (failure && failure.response.kind === "failure") {
    return new DnsError(
      "failure",
      `DNS server ${failure.server} could not answer for ${of}: ${failure.response.rcode}`,
    );
  }
  if (problems.some((p) => p.response.kind === "truncated")) {
    return new DnsError(
      "truncated",
      `the answer for ${of} did not fit in one datagram (truncated), and DNS over TCP is not supported`,
    );
  }
  const garbled = problems.find((p) => "garbage" in p.response && p.response.garbage);
  if (garbled && "garbage" in garbled.response) {
    return new DnsError(
      "garbage",
      `DNS server ${garbled.server} sent no usable answer for ${of}: ${garbled.response.garbage}`,
    );
  }
  return new DnsError(
    "timeout",
    `no answer for ${of} from ${o.servers.join(", ")} (${o.attempts} tries each, ${o.timeoutMs / 1000} s apart)`,
  );
}

function sameAddress(a: string, b: string): boolean {
  return (addressLiteral(a)?.address ?? a) === (addressLiteral(b)?.address ?? b);
}

/** Why `name` is not a host name (RFC 1123 labels, 253 characters at most), or undefined. */
function nameProblem(name: string): string | undefined {
  if (name === "") return "it is empty";
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  if (bare.length > 253) return "longer than 253 characters";
  const bad = bare.split(".").find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    return bad === ""
      ? "an empty label"
      : `the label '${bad.slice(0, 63)}' is not letters, digits and hyphens`;
  }
  return undefined;
}
