/**
 * DNS messages of the tunnel's resolver (RFC 1035), encoded and decoded by `dns-packet`: a
 * recursive query for one name and type, and what a response to it says. A response is checked
 * against the query it claims to answer (ID, QR, opcode, the question echoed); one that does not
 * match is `unrelated` (a stray or spoofed datagram: the resolver keeps waiting), one that cannot be
 * decoded is `garbage`. Neither function throws on network input.
 */

import { Buffer } from "buffer";
import dnsPacket from "dns-packet";

export type RecordType = "A" | "AAAA";

/** Addresses kept from one answer at most; the rest are dropped (a hostile server sends thousands). */
export const MAX_ADDRESSES = 32;
/** RFC 2181 §8: a TTL with the top bit set is read as 0. */
const TTL_LIMIT = 0x7fffffff;

export interface Question {
  id: number;
  name: string;
  type: RecordType;
}

/** What a response to a question says. TTLs in seconds, as the server sent them (RFC 2181 §8). */
export type Response =
  | { kind: "addresses"; addresses: string[]; ttl: number }
  /** NOERROR with no address of the type (RFC 2308 "NODATA"); `ttl` from the SOA, when sent. */
  | { kind: "nodata"; ttl?: number }
  | { kind: "nxdomain"; ttl?: number }
  | { kind: "failure"; rcode: string }
  /** TC set: the answer did not fit in a datagram (and there is no DNS over TCP here). */
  | { kind: "truncated" }
  | { kind: "unrelated"; reason: string }
  | { kind: "garbage"; reason: string };

/** A recursive query (RD set) for `name`'s records of `type`, class IN, no EDNS. */
export function encodeQuery(q: Question): Uint8Array {
  const bytes = dnsPacket.encode({
    type: "query",
    id: q.id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: q.type, class: "IN", name: q.name }],
  });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** What `data`, a datagram from the server, says about `q`. Never throws. */
export function decodeResponse(data: Uint8Array, q: Question): Response {
  if (data.length < 12)
    return { kind: "garbage", reason: `${data.length} bytes, not a DNS message` };
  // The header first, so a reply we cannot fully decode still counts only when it is ours.
  const id = (data[0]! << 8) | data[1]!;
  if (id !== q.id) return { kind: "unrelated", reason: `ID ${id}, not ${q.id}` };
  if ((data[2]! & 0x80) === 0) return { kind: "unrelated", reason: "a query, not a response" };
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(Buffer.from(data.buffer, data.byteOffset, data.length));
  } catch (e) {
    return { kind: "garbage", reason: `undecodable (${(e as Error).message})` };
  }
  const flags = (data[2]! << 8) | data[3]!;
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { kind: "unrelated", reason: `opcode ${opcode}, not QUERY` };
  const question = packet.questions?.[0];
  if (
    packet.questions?.length !== 1 ||
    !question ||
    !sameName(question.name, q.name) ||
    question.type !== q.type ||
    (question.class !== undefined && question.class !== "IN")
  ) {
    return { kind: "unrelated", reason: "the question is not the one asked" };
  }
  if ((flags & 0x0200) !== 0) return { kind: "truncated" };
  const rcode = flags & 0xf;
  if (rcode === 3) return withTtl({ kind: "nxdomain" }, soaTtl(packet));
  if (rcode !== 0) return { kind: "failure", rcode: RCODES[rcode] ?? `RCODE ${rcode}` };
  // Follow CNAMEs inside the answer: the addresses are those of the chain's last name.
  const answers = (packet.answers ?? []) as {
    type: string;
    name: string;
    ttl?: number;
    data?: unknown;
  }[];
  let target = q.name;
  let ttl = TTL_LIMIT;
  for (let hop = 0; hop < 8; hop++) {
    const alias = answers.find((r) => r.type === "CNAME" && sameName(r.name, target));
    if (!alias || typeof alias.data !== "string") break;
    ttl = Math.min(ttl, clampTtl(alias.ttl));
    target = alias.data;
  }
  const addresses: string[] = [];
  for (const r of answers) {
    if (r.type !== q.type || !sameName(r.name, target) || typeof r.data !== "string") continue;
    if (addresses.length >= MAX_ADDRESSES) break;
    if (!addresses.includes(r.data)) addresses.push(r.data);
    ttl = Math.min(ttl, clampTtl(r.ttl));
  }
  if (addresses.length === 0) return withTtl({ kind: "nodata" }, soaTtl(packet));
  return { kind: "addresses", addresses, ttl };
}

/** The negative-caching TTL of RFC 2308 §5: the SOA's TTL or its MINIMUM, whichever is less. */
function soaTtl(packet: dnsPacket.DecodedPacket): number | undefined {
  for (const r of packet.authorities ?? []) {
    if (r.type !== "SOA" || typeof r.data !== "object" || r.data === null) continue;
    const minimum = (r.data as { minimum?: unknown }).minimum;
    if (typeof minimum !== "number") continue;
    return Math.min(clampTtl(r.ttl), clampTtl(minimum));
  }
  return undefined;
}

function withTtl<T extends { kind: string }>(r: T, ttl: number | undefined): T & { ttl?: number } {
  return ttl === undefined ? r : { ...r, ttl };
}

function clampTtl(ttl: unknown): number {
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl < 0 || ttl > TTL_LIMIT) return 0;
  return Math.floor(ttl);
}

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, "").toLowerCase() === b.replace(/\.$/, "").toLowerCase();
}
