// The Node UDP adapter (`UdpDevice`, what the demo peer runs on): two devices on loopback, node
// backend, bursts of 64 packets of 1,420 bytes from A to B, each burst waiting for B's deliveries.
// Prints packets/s (best of the rounds) and heap bytes allocated per packet, both ends together
// (node:dgram and node:crypto included; median over bursts in which no collection ran).
//
// BENCH_BASELINE_DIST=<another build's packages/core/dist> runs that build's adapter in the same
// rounds, alternating, and prints this ÷ baseline.
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { getHeapStatistics } from "node:v8";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.7);
const BURST = 64;
const PACKET_SIZE = 1420;

async function load(dist) {
  const url = (file) => pathToFileURL(join(resolve(dist), file)).href;
  return { dist, ...(await import(url("index.js"))), ...(await import(url("node.js"))) };
}

const builds = [await load(new URL("../dist", import.meta.url).pathname)];
if (process.env.BENCH_BASELINE_DIST) builds.push(await load(process.env.BENCH_BASELINE_DIST));

function ipv4Packet(size) {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  p[9] = 17;
  p.set([10, 9, 0, 1], 12);
  p.set([10, 9, 0, 2], 16);
  return p;
}

async function pair(build) {
  const random = (n) => crypto.getRandomValues(new Uint8Array(n));
  let delivered = 0;
  let waiting;
  const b = await build.UdpDevice.start({
    privateKey: build.generatePrivateKey(random),
    host: "127.0.0.1",
    onPacket: () => {
      delivered++;
      if (waiting && delivered >= waiting.until) {
        waiting.resolve();
        waiting = undefined;
      }
    },
  });
  const a = await build.UdpDevice.start({
    privateKey: build.generatePrivateKey(random),
    host: "127.0.0.1",
  });
  const loopback = (device) => ({ address: "127.0.0.1", port: device.port });
  a.addPeer({ publicKey: b.device.publicKey, allowedIps: ["10.9.0.2/32"], endpoint: loopback(b) });
  b.addPeer({ publicKey: a.device.publicKey, allowedIps: ["10.9.0.1/32"], endpoint: loopback(a) });
  const packet = ipv4Packet(PACKET_SIZE);
  /** One burst; a packet lost on loopback ends the wait after 200 ms rather than never. */
  const burst = async () => {
    const arrived = new Promise((resolve) => {
      waiting = { until: delivered + BURST, resolve };
    });
    for (let i = 0; i < BURST; i++) a.send(packet);
    await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 200))]);
  };
  await burst(); // the handshake
  return {
    burst,
    delivered: () => delivered,
    close: () => Promise.all([a.close(), b.close()]),
  };
}

const pairs = [];
for (const build of builds) pairs.push(await pair(build));
const rates = builds.map(() => 0);
const heap = builds.map(() => []);
/** CPU µs of this process (both ends, the kernel's share of the sockets included) per packet. */
const cpu = builds.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  // Which build goes first alternates by round.
  for (let j = 0; j < pairs.length; j++) {
    const i = (j + round) % pairs.length;
    const p = pairs[i];
    for (let w = 0; w < 30; w++) await p.burst();
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const first = p.delivered();
    while (performance.now() - start < SECONDS * 1000) {
      const before = getHeapStatistics().used_heap_size;
      const n = p.delivered();
      await p.burst();
      const after = getHeapStatistics().used_heap_size;
      if (after > before && p.delivered() > n) heap[i].push((after - before) / (p.delivered() - n));
    }
    const used = process.cpuUsage(cpuStart);
    cpu[i].push((used.user + used.system) / (p.delivered() - first));
    const perSecond = (p.delivered() - first) / ((performance.now() - start) / 1000);
    rates[i] = Math.max(rates[i], perSecond);
  }
}
await Promise.all(pairs.map((p) => p.close()));

const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1] ?? Number.NaN;
const f = (x) => Math.round(x).toLocaleString("en-US");
console.log(
  `\nUdpDevice on loopback (node backend; bursts of ${BURST} packets of ${PACKET_SIZE} bytes)`,
);
builds.forEach((build, i) => {
  console.log(
    `  ${i === 0 ? "this build" : build.dist}: ${f(rates[i])} packets/s, ` +
      `${median(cpu[i]).toFixed(1)} CPU µs and ${f(median(heap[i]))} heap bytes per packet (both ends)`,
  );
});
if (builds.length > 1) {
  console.log(
    `  this build ÷ baseline: packets/s ${(rates[0] / rates[1]).toFixed(2)}; ` +
      `baseline ÷ this build, CPU per packet ${(median(cpu[1]) / median(cpu[0])).toFixed(2)}`,
  );
}
