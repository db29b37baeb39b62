// A hostile DNS server, for the resolver's attack test (run inside a test namespace by
// helpers/hostile-dns.ts): `node hostile-dns.mjs <address> <flood> <v4> <v6>`. For every query it first sends
// <flood> answers with the wrong ID and <flood> unsolicited answers to random ports of the
// asker, then the real answer: as many A (or AAAA) records for the name as fit in one datagram of
// the tunnel, each with the largest TTL there is, plus records for other names. It prints one line
// per query ("query <type> <name>") and "ready" once it listens. The first record of each answer
// is <v4> (or <v6>), a real address, so a connection to the name works; the others are made up.
import { createSocket } from "node:dgram";
import dnsPacket from "dns-packet";

const [address, floodText, realV4, realV6] = process.argv.slice(2);
const flood = Number(floodText ?? "20");
const socket = createSocket(address.includes(":") ? "udp6" : "udp4");
/** One datagram of the tunnel (MTU 1420) with room for IP and UDP headers. */
const MAX_BYTES = 1360;

function answer(query, id, count) {
  const q = query.questions[0];
  const records = Array.from({ length: count }, (_, i) => ({
    type: q.type === "AAAA" ? "AAAA" : "A",
    name: i % 10 === 9 ? `other-${i}.evil.test` : q.name,
    ttl: 0x7fffffff,
    data:
      q.type === "AAAA"
        ? i === 0
          ? realV6
          : `fd00:6666::${i.toString(16)}`
        : i === 0
          ? realV4
          : `10.66.${i >> 8}.${i & 255}`,
  }));
  return dnsPacket.encode({
    type: "response",
    id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE,
    questions: [q],
    answers: records,
  });
}

/** How many records of the largest answer that fits in MAX_BYTES. */
function fitting(query) {
  let count = 200;
  while (answer(query, 0, count).length > MAX_BYTES) count -= 5;
  return count;
}

socket.on("message", (message, from) => {
  let query;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return;
  }
  const q = query.questions?.[0];
  if (!q) return;
  process.stdout.write(`query ${q.type} ${q.name}\n`);
  const count = fitting(query);
  const real = answer(query, query.id, count);
  for (let i = 0; i < flood; i++) {
    socket.send(answer(query, (query.id + 1 + i) & 0xffff, count), from.port, from.address);
    socket.send(real, 49152 + Math.floor(Math.random() * 16384), from.address);
  }
  socket.send(real, from.port, from.address);
});

socket.bind(53, address, () => process.stdout.write("ready\n"));
