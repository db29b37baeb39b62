/**
 * The demo peer's name server inside the tunnel (UDP port 53 of its tunnel addresses): it answers
 * for one name of its own, `demo.wiregate` (A and AAAA: its tunnel addresses), says NXDOMAIN for
 * every other name under `wiregate` and REFUSED for the rest (it is no recursive resolver).
 * Messages are decoded and encoded with `dns-packet`; what it cannot decode it does not answer.
 */
import { DEMO_SERVER_V4, DEMO_SERVER_V6 } from "@wiregate/packets";
import dnsPacket from "dns-packet";

export const DEMO_NAME = "demo.wiregate";
export const DEMO_ZONE = "wiregate";
/** The servers of the demo's DNS line: the demo peer itself. */
export const DEMO_DNS = `${DEMO_SERVER_V4}, ${DEMO_SERVER_V6}`;
const TTL = 300;

const SOA = {
  type: "SOA" as const,
  name: DEMO_ZONE,
  ttl: TTL,
  data: {
    mname: DEMO_NAME,
    rname: `hostmaster.${DEMO_ZONE}`,
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 60,
  },
};

/** The answer to one query, or undefined for what is not a query it can read. */
export function answerDns(query: Uint8Array): Uint8Array | undefined {
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(Buffer.from(query.buffer, query.byteOffset, query.length));
  } catch {
    return undefined;
  }
  const question = packet.questions?.[0];
  if (packet.type !== "query" || packet.questions?.length !== 1 || !question) return undefined;
  const name = question.name.toLowerCase().replace(/\.$/, "");
  const ours = name === DEMO_ZONE || name.endsWith(`.${DEMO_ZONE}`);
  const answers: dnsPacket.Answer[] = [];
  if (name === DEMO_NAME && question.type === "A")
    answers.push({ type: "A", name: question.name, ttl: TTL, data: DEMO_SERVER_V4 });
  if (name === DEMO_NAME && question.type === "AAAA")
    answers.push({ type: "AAAA", name: question.name, ttl: TTL, data: DEMO_SERVER_V6 });
  // RCODE 0 (NOERROR), 3 (NXDOMAIN) or 5 (REFUSED), with AA for our own zone.
  const rcode = !ours ? 5 : name === DEMO_NAME || name === DEMO_ZONE ? 0 : 3;
  const reply = dnsPacket.encode({
    type: "response",
    id: packet.id ?? 0,
    flags:
      rcode |
      (ours ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
      ((packet.flags ?? 0) & dnsPacket.RECURSION_DESIRED),
    questions: [question],
    answers,
    authorities: ours && answers.length === 0 ? [SOA] : [],
  });
  return new Uint8Array(reply.buffer, reply.byteOffset, reply.length);
}
