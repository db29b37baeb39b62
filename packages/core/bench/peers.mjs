// Per-packet cost against the number of peers on one device (a server with many clients).
// Run `npm run bench -w @wiregate/core`. Device A has N peers, each with timers armed (an
// initiation in flight); one of them is established with B. Measured: A.send of a 1420-byte
// packet plus B.receive of the datagram, per packet. The ratio to N = 1, measured in the same
// run, is what matters: flat means the cost does not grow with the peer count.
import { Device, nobleCrypto } from "../dist/index.js";
import { nodeCrypto } from "../dist/node.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.7);
const COUNTS = (process.env.BENCH_PEERS ?? "1,1000,10000").split(",").map(Number);
const random = (n) => crypto.getRandomValues(new Uint8Array(n));
const wallClock = () => 1_700_000_000_000_000_000n;
const backend = process.env.BENCH_CRYPTO === "noble" ? nobleCrypto : nodeCrypto;

function packet(size) {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set([10, 0, 0, 1], 12);
  p.set([10, 0, 0, 2], 16);
  return p;
}

function setup(peers) {
  const a = new Device({ privateKey: random(32), random, wallClock, crypto: backend });
  const b = new Device({ privateKey: random(32), random, wallClock, crypto: backend });
  const epA = { address: "192.0.2.1", port: 1 };
  const epB = { address: "192.0.2.2", port: 2 };
  a.addPeer(0, { publicKey: b.publicKey, allowedIps: ["10.0.0.2/32"], endpoint: epB });
  b.addPeer(0, { publicKey: a.publicKey, allowedIps: ["10.0.0.1/32"], endpoint: epA });
  for (let i = 1; i < peers; i++) {
    const key = backend.x25519Public(random(32));
    const address = `10.${1 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}/32`;
    const endpoint = { address: `198.51.100.${i & 0xff}`, port: 1000 + (i >> 8) };
    a.addPeer(0, { publicKey: key, allowedIps: [address], endpoint });
    a.initiateHandshake(0, key); // arms the peer's retransmit timer
  }
  const init = a.initiateHandshake(0, b.publicKey).datagrams[0].data;
  const response = b.receive(0, init, epA).datagrams[0].data;
  const keepalive = a.receive(0, response, epB).datagrams[0].data;
  b.receive(0, keepalive, epA);
  return { a, b, epA };
}

function rate(fn, batch) {
  const warmUntil = performance.now() + 150;
  while (performance.now() < warmUntil) fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now < start + SECONDS * 1000) {
    fn();
    ops += batch;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

const p = packet(1420);
const pairs = COUNTS.map((n) => ({ n, ...setup(n) }));
const best = new Map();
for (let round = 0; round < 3; round++) {
  for (const { n, a, b, epA } of pairs) {
    const r = rate(() => {
      for (let i = 0; i < 64; i++) b.receive(1, a.send(1, p).datagrams[0].data, epA);
    }, 64);
    best.set(n, Math.max(best.get(n) ?? 0, r));
  }
}
console.log(`\nper-packet cost by peer count (${backend.name}; A.send + B.receive, 1420 bytes)`);
const base = best.get(COUNTS[0]);
for (const n of COUNTS) {
  const r = best.get(n);
  console.log(
    `  ${String(n).padStart(6)} peers: ${(1e6 / r).toFixed(2)} µs/packet, ` +
      `cost ratio to ${COUNTS[0]} peer${COUNTS[0] === 1 ? "" : "s"} ${(base / r).toFixed(2)}`,
  );
}
