// Benchmark of the sans-IO engine against the raw primitives it is built on, per crypto backend.
// Run `npm run bench -w @wiregate/core` (builds dist first). Numbers depend on the machine; the
// ratios (engine rate / ideal rate from the primitives measured in the same run) are what matter.
//
//   handshakes/s  full handshake through two Devices: initiation created and consumed, response
//                 created and consumed, and the initiator's confirming keepalive sealed and opened.
//                 Ideal = 1 / (X25519 time per handshake), from the measured cost of each kind of
//                 X25519 operation times how many of each one handshake performs.
//   transport     1420-byte IP packets: Device.send on one side, Device.receive on the other.
//                 Ideal = ChaCha20-Poly1305 seal + open of the same plaintext size.
//
// BENCH_BASELINE_DIST=<another build's packages/core/dist> also measures that build's Device and
// backends in the same rounds, alternating with this build's, and prints this ÷ baseline; and the
// CPU time per packet of each (process.cpuUsage, alternating rounds): on a shared machine the
// CPU-time ratio holds where the wall-clock rates swing with the other processes.
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import sodium from "libsodium-wrappers";
import { Device, nobleCrypto, withSodiumAead } from "../dist/index.js";
import { nodeCrypto } from "../dist/node.js";

await sodium.ready;
/** The page's tunnel worker's backend: noble, with the transport AEAD on libsodium. */
const sodiumCrypto = withSodiumAead(sodium);

const BASELINE_DIST = process.env.BENCH_BASELINE_DIST;
const baselineBuild = BASELINE_DIST
  ? {
      ...(await import(pathToFileURL(join(resolve(BASELINE_DIST), "index.js")).href)),
      ...(await import(pathToFileURL(join(resolve(BASELINE_DIST), "node.js")).href)),
    }
  : undefined;

const PACKET_SIZE = 1420;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.7);

const random = (n) => crypto.getRandomValues(new Uint8Array(n));
const wallClockBase = 1_700_000_000_000_000_000n;

/** Runs `fn` (which does `batch` operations) repeatedly for about SECONDS; returns ops/s. */
function rate(fn, batch = 1) {
  const warmUntil = performance.now() + 150;
  while (performance.now() < warmUntil) fn();
  let ops = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let now = start;
  while (now < end) {
    fn();
    ops += batch;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

function counting(base) {
  const counts = { x25519: 0, x25519Public: 0 };
  return {
    counts,
    backend: {
      ...base,
      x25519(priv, pub) {
        counts.x25519++;
        return base.x25519(priv, pub);
      },
      x25519Public(priv) {
        counts.x25519Public++;
        return base.x25519Public(priv);
      },
    },
  };
}

function ipv4Packet(size) {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set([10, 0, 0, 1], 12);
  p.set([10, 0, 0, 2], 16);
  for (let i = 28; i < size; i++) p[i] = i & 0xff;
  return p;
}

function makePair(backend, DeviceClass = Device) {
  let now = 0;
  const clock = {
    get now() {
      return now;
    },
    set now(v) {
      now = v;
    },
  };
  const options = () => ({
    privateKey: random(32),
    random,
    crypto: backend,
    wallClock: () => wallClockBase + BigInt(now) * 1_000_000n,
  });
  const a = new DeviceClass(options());
  const b = new DeviceClass(options());
  const epA = { address: "192.0.2.1", port: 1 };
  const epB = { address: "192.0.2.2", port: 2 };
  a.addPeer(0, { publicKey: b.publicKey, allowedIps: ["10.0.0.2/32"], endpoint: epB });
  b.addPeer(0, { publicKey: a.publicKey, allowedIps: ["10.0.0.1/32"], endpoint: epA });
  const only = (out, what) => {
    if (out.datagrams.length !== 1) throw new Error(`${what}: expected one datagram`);
    return out.datagrams[0].data;
  };
  const handshake = () => {
    // Past REKEY_TIMEOUT, so neither side's rate limit refuses the next initiation.
    clock.now += 5_001;
    const t = clock.now;
    const init = only(a.initiateHandshake(t, b.publicKey), "initiation");
    const response = only(b.receive(t, init, epA), "response");
    const keepalive = only(a.receive(t, response, epB), "keepalive");
    b.receive(t, keepalive, epA);
  };
  return { a, b, epA, epB, clock, handshake };
}

/** A backend that adds up the time spent inside its primitives. */
function timed(base) {
  const spent = { ms: 0 };
  const backend = { ...base };
  for (const name of [
    "x25519",
    "x25519Public",
    "hash",
    "mac",
    "hmac",
    "seal",
    "sealInto",
    "open",
    "xseal",
    "xopen",
  ]) {
    if (!base[name]) continue;
    backend[name] = (...args) => {
      const t = performance.now();
      try {
        return base[name](...args);
      } finally {
        spent.ms += performance.now() - t;
      }
    };
  }
  return { spent, backend };
}

/** Share of a run's time spent inside the crypto primitives (the rest is the engine's own). */
function primitiveShare(base, setup, work) {
  const t = timed(base);
  const state = setup(t.backend);
  work(state);
  t.spent.ms = 0;
  const start = performance.now();
  const until = start + SECONDS * 500;
  while (performance.now() < until) work(state);
  return t.spent.ms / (performance.now() - start);
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/**
 * CPU time per call of `before` ÷ that of `after` (process.cpuUsage: the time this process ran,
 * which other processes on a busy machine do not inflate as they do wall-clock rates), over 10
 * alternating rounds of SECONDS / 2 each; the median of the per-round ratios and the medians of
 * each side's µs per operation.
 */
function cpuRatio(before, after, batch) {
  const cpu = (fn) => {
    const start = process.cpuUsage();
    const until = performance.now() + SECONDS * 500;
    let calls = 0;
    while (performance.now() < until) {
      fn();
      calls++;
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / (calls * batch);
  };
  const ratios = [];
  const us = { before: [], after: [] };
  for (let round = 0; round < 10; round++) {
    const order = round % 2 ? ["after", "before"] : ["before", "after"];
    const got = {};
    for (const side of order) got[side] = cpu(side === "before" ? before : after);
    us.before.push(got.before);
    us.after.push(got.after);
    ratios.push(got.before / got.after);
  }
  return { ratio: median(ratios), beforeUs: median(us.before), afterUs: median(us.after) };
}

function median(xs) {
  return [...xs].sort((x, y) => x - y)[xs.length >> 1];
}
const best = (xs) => Math.max(...xs);

function bench(base) {
  const row = { backend: base.name };
  const priv = random(32);
  const pub = base.x25519Public(random(32));

  // X25519 operations one handshake performs (the static-static DH is cached per peer).
  const counted = counting(base);
  const probe = makePair(counted.backend);
  probe.handshake();
  counted.counts.x25519 = 0;
  counted.counts.x25519Public = 0;
  probe.handshake();
  row.x25519PerHandshake = { ...counted.counts };

  // Raw AEAD on the same plaintext size, fresh counter each time like the engine; and the same
  // through the engine: send on A, receive on B.
  const key = random(32);
  const plaintext = random(PACKET_SIZE);
  const empty = new Uint8Array(0);
  let counter = 0n;
  const batch = 64;
  const aead = () => {
    for (let i = 0; i < batch; i++) {
      const c = counter++;
      const sealed = base.seal(key, c, plaintext, empty);
      if (base.open(key, c, sealed, empty) === null) throw new Error("open failed");
    }
  };
  const pair = makePair(base);
  pair.handshake();
  const packet = ipv4Packet(PACKET_SIZE);
  let delivered = 0;
  const transport = (p) => () => {
    const t = p.clock.now;
    for (let i = 0; i < batch; i++) {
      const out = p.a.send(t, packet);
      const got = p.b.receive(t, out.datagrams[0].data, p.epA);
      delivered += got.packets.length;
    }
  };

  // Alternate the measurements so that a noisy neighbour affects both sides of each ratio; keep
  // the best of each.
  const r = { shared: [], public: [], handshakes: [], aead: [], device: [], baseline: [] };
  const baselineBackend = baselineBuild
    ? [
        baselineBuild.nobleCrypto,
        baselineBuild.nodeCrypto,
        baselineBuild.withSodiumAead?.(sodium),
      ].find((b) => b?.name === base.name)
    : undefined;
  const baselinePair = baselineBackend
    ? makePair(baselineBackend, baselineBuild.Device)
    : undefined;
  baselinePair?.handshake();
  for (let round = 0; round < ROUNDS; round++) {
    r.shared.push(rate(() => base.x25519(priv, pub)));
    // A public key is derived from a fresh ephemeral key each time, as in a handshake (a backend
    // may keep a loaded key, which only helps keys that are used again, like the static key).
    r.public.push(rate(() => base.x25519Public(random(32))));
    r.handshakes.push(rate(pair.handshake));
    pair.handshake();
    r.aead.push(rate(aead, batch));
    r.device.push(rate(transport(pair), batch));
    if (baselinePair) r.baseline.push(rate(transport(baselinePair), batch));
  }
  if (delivered === 0) throw new Error("no packet delivered");
  row.x25519PerSecond = best(r.shared);
  row.x25519PublicPerSecond = best(r.public);
  const idealSeconds =
    row.x25519PerHandshake.x25519 / row.x25519PerSecond +
    row.x25519PerHandshake.x25519Public / row.x25519PublicPerSecond;
  row.idealHandshakesPerSecond = 1 / idealSeconds;
  row.handshakesPerSecond = best(r.handshakes);
  row.handshakeRatio = row.handshakesPerSecond / row.idealHandshakesPerSecond;
  row.aeadMBps = (best(r.aead) * PACKET_SIZE) / 1e6;
  row.deviceMBps = (best(r.device) * PACKET_SIZE) / 1e6;
  row.transportRatio = row.deviceMBps / row.aeadMBps;
  if (baselinePair) {
    row.baselineDeviceMBps = (best(r.baseline) * PACKET_SIZE) / 1e6;
    row.cpuRatio = cpuRatio(transport(baselinePair), transport(pair), batch);
  }

  // Where the rest goes: the share of time inside any crypto primitive (X25519, BLAKE2s hashes
  // and HMACs, AEAD) versus the engine's own code.
  row.handshakePrimitiveShare = primitiveShare(base, makePair, (p) => p.handshake());
  row.transportPrimitiveShare = primitiveShare(
    base,
    (backend) => {
      const p = makePair(backend);
      p.handshake();
      return p;
    },
    (p) => transport(p)(),
  );
  return row;
}

const f = (x, digits = 0) => x.toLocaleString("en-US", { maximumFractionDigits: digits });
console.log(
  `node ${process.version}, ${SECONDS} s per measurement, packets of ${PACKET_SIZE} bytes`,
);
for (const backend of [nobleCrypto, nodeCrypto, sodiumCrypto]) {
  const r = bench(backend);
  console.log(`\n${r.backend}`);
  console.log(
    `  X25519: ${f(r.x25519PerSecond)} shared/s, ${f(r.x25519PublicPerSecond)} public/s; ` +
      `per handshake ${r.x25519PerHandshake.x25519} shared + ${r.x25519PerHandshake.x25519Public} public`,
  );
  console.log(
    `  handshakes: ${f(r.handshakesPerSecond)}/s, ideal ${f(r.idealHandshakesPerSecond)}/s, ` +
      `ratio ${f(r.handshakeRatio, 2)}; ${f(100 * r.handshakePrimitiveShare)}% of the time in crypto primitives`,
  );
  console.log(
    `  transport: ${f(r.deviceMBps, 1)} MB/s through the Device, ` +
      `ChaCha20-Poly1305 seal+open ${f(r.aeadMBps, 1)} MB/s, ratio ${f(r.transportRatio, 2)}; ` +
      `${f(100 * r.transportPrimitiveShare)}% of the time in crypto primitives`,
  );
  if (r.baselineDeviceMBps !== undefined)
    console.log(
      `  transport against ${BASELINE_DIST}: ${f(r.baselineDeviceMBps, 1)} MB/s there, ` +
        `this build ÷ baseline ${f(r.deviceMBps / r.baselineDeviceMBps, 2)}; CPU per packet ` +
        `${f(r.cpuRatio.beforeUs, 2)} µs there, ${f(r.cpuRatio.afterUs, 2)} µs here, ` +
        `baseline ÷ this build ${f(r.cpuRatio.ratio, 2)}`,
    );
}
