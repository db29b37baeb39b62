// Benchmark: messages/s of `wiregate-replay decode` vs tshark on the same generated capture, with
// and without keys (both decrypting transport data with keys). The capture (≥ 1,000,000 WireGuard
// messages) is made by two of our Devices exchanging real traffic, written with PcapngWriter, plus
// the key log they emit. Usage: npm run bench -w @wiregate/replay [-- MESSAGES]
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildUdpPacket, PcapngWriter } from "@wiregate/capture";
import { Device, deterministicRandom, generatePrivateKey } from "@wiregate/core";
import { nodeCrypto } from "@wiregate/core/node";

const here = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(here, "../dist/cli.js");
const TARGET = Number(process.argv[2] ?? 1_000_000);

function icmp(src, dst, seq, reply) {
  const p = new Uint8Array(84);
  p[0] = 0x45;
  p[3] = 84;
  p[8] = 64;
  p[9] = 1;
  p.set(src, 12);
  p.set(dst, 16);
  p[20] = reply ? 0 : 8;
  p[26] = seq >> 8;
  p[27] = seq & 0xff;
  return p;
}

function generate(file, keylogFile) {
  const epoch = 1_800_000_000_000_000_000n;
  const epA = { address: "10.0.0.1", port: 51820 };
  const epB = { address: "10.0.0.2", port: 51821 };
  let now = 0;
  const mk = (seed) =>
    new Device({
      privateKey: generatePrivateKey(deterministicRandom(`${seed} static`)),
      random: deterministicRandom(seed),
      wallClock: () => epoch + BigInt(Math.round(now * 1e6)),
      crypto: nodeCrypto,
      keyLog: true,
    });
  const a = mk("bench A");
  const b = mk("bench B");
  const keyLog = [];
  const writer = new PcapngWriter();
  const fd = openSync(file, "w");
  let chunks = [writer.addInterface({ linkType: 101 })];
  let size = 0;
  let messages = 0;
  const record = (from, to, data) => {
    const block = writer.writePacket({
      timestampNs: epoch + BigInt(Math.round(now * 1e6)),
      data: buildUdpPacket({ src: from, dst: to, payload: data }),
    });
    chunks.push(block);
    size += block.length;
    messages++;
    if (size > 1 << 20) {
      writeSync(fd, Buffer.concat(chunks));
      chunks = [];
      size = 0;
    }
  };
  const queue = [];
  const take = (_device, from, out) => {
    keyLog.push(...out.keyLog);
    for (const d of out.datagrams) {
      record(from, d.to, d.data);
      queue.push({ device: d.to.port === epA.port ? a : b, data: d.data, from });
    }
    return out;
  };
  take(
    a,
    epA,
    a.addPeer(0, { publicKey: b.publicKey, endpoint: epB, allowedIps: ["10.9.0.2/32"] }),
  );
  take(
    b,
    epB,
    b.addPeer(0, { publicKey: a.publicKey, endpoint: epA, allowedIps: ["10.9.0.1/32"] }),
  );
  const ipA = Uint8Array.of(10, 9, 0, 1);
  const ipB = Uint8Array.of(10, 9, 0, 2);
  for (let seq = 0; messages < TARGET; seq++) {
    now += 0.5;
    take(a, epA, a.send(now, icmp(ipA, ipB, seq & 0xffff, false)));
    while (queue.length > 0) {
      const { device, data, from } = queue.shift();
      const self = device === a ? epA : epB;
      const out = take(device, self, device.receive(now, data, from));
      for (const p of out.packets) {
        if (device === b) take(b, epB, b.send(now, icmp(ipB, ipA, seq & 0xffff, true)));
        void p;
      }
    }
    for (const [d, ep] of [
      [a, epA],
      [b, epB],
    ])
      take(d, ep, d.tick(now));
  }
  writeSync(fd, Buffer.concat(chunks));
  closeSync(fd);
  writeFileSync(keylogFile, `${[...new Set(keyLog)].join("\n")}\n`);
  return messages;
}

/**
 * Runs a command with stdout to a file; returns wall and CPU (user + sys) seconds and the number of
 * output lines. CPU time is the fair measure on a shared machine; both are reported.
 */
function timed(command, args) {
  return new Promise((resolvePromise, reject) => {
    const out = join(tmpdir(), `wiregate-bench-out-${process.pid}.txt`);
    const script = `TIMEFORMAT='%R %U %S'; { time "$@" > ${JSON.stringify(out)} 2> ${JSON.stringify(out + ".err")}; } 2>&1`;
    const child = spawn("bash", ["-c", script, "bash", command, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let timing = "";
    child.stdout.on("data", (chunk) => {
      timing += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const stderr = readFileSync(`${out}.err`, "utf8");
      if (code !== 0)
        return reject(new Error(`${command} exited ${code}: ${stderr.slice(0, 500)}`));
      const [wall, user, sys] = timing.trim().split(/\s+/).map(Number);
      const data = readFileSync(out);
      let lines = 0;
      for (let i = 0; i < data.length; i++) if (data[i] === 10) lines++;
      const sha256 = createHash("sha256").update(data).digest("hex");
      rmSync(out, { force: true });
      rmSync(`${out}.err`, { force: true });
      resolvePromise({ wall, cpu: user + sys, lines, stderr, sha256 });
    });
  });
}

const file = join(tmpdir(), `wiregate-bench-${TARGET}.pcapng`);
const keylog = join(tmpdir(), `wiregate-bench-${TARGET}.keys`);
if (!existsSync(file) || !existsSync(keylog)) {
  const t0 = Date.now();
  const n = generate(file, keylog);
  console.log(
    `generated ${n} WireGuard messages (${(statSync(file).size / 2 ** 20).toFixed(0)} MiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}
const FIELDS = ["-e", "wg.type", "-e", "wg.sender", "-e", "wg.receiver", "-e", "wg.counter"];
const runs = {
  "ours, no keys": [process.execPath, [CLI, "decode", file, ...FIELDS]],
  "tshark, no keys": ["tshark", ["-r", file, "-Y", "wg", "-T", "fields", ...FIELDS]],
  "ours, with keys": [
    process.execPath,
    [CLI, "decode", file, "--keylog", keylog, ...FIELDS, "-e", "inner"],
  ],
  "tshark, with keys": [
    "tshark",
    [
      "-r",
      file,
      "-o",
      `wg.keylog_file:${keylog}`,
      "-Y",
      "wg",
      "-T",
      "fields",
      ...FIELDS,
      "-e",
      "icmp.type",
    ],
  ],
};
// Each command runs REPEAT times, interleaved; the machine is shared, so the least disturbed run
// (minimum CPU time) of each is compared, and the medians are reported too.
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const samples = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));
for (let i = 0; i < REPEAT; i++) {
  for (const [name, [command, args]] of Object.entries(runs)) {
    const r = await timed(command, args);
    samples[name].push(r);
    console.log(
      `run ${i + 1} ${name.padEnd(18)} ${r.lines} messages: CPU ${r.cpu.toFixed(2)} s = ${Math.round(r.lines / r.cpu).toLocaleString("en")}/s; wall ${r.wall.toFixed(2)} s = ${Math.round(r.lines / r.wall).toLocaleString("en")}/s`,
    );
  }
}
const results = {};
const medianOf = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
for (const [name, list] of Object.entries(samples)) {
  const best = list.reduce((x, y) => (y.cpu < x.cpu ? y : x));
  const cpuMedian = medianOf(list.map((r) => r.cpu));
  const wallMin = Math.min(...list.map((r) => r.wall));
  results[name] = {
    messages: best.lines,
    cpuSeconds: list.map((r) => r.cpu),
    wallSeconds: list.map((r) => r.wall),
    rate: best.lines / best.cpu,
    medianRate: best.lines / cpuMedian,
    wallRate: best.lines / wallMin,
    sha256: best.sha256,
  };
  if (name.startsWith("ours, with")) {
    const m = /\((\d+) decrypted/.exec(best.stderr);
    results[name].decrypted = m ? Number(m[1]) : 0;
  }
  console.log(
    `${name.padEnd(18)} best CPU ${best.cpu.toFixed(2)} s = ${Math.round(results[name].rate).toLocaleString("en")} messages/s (median ${Math.round(results[name].medianRate).toLocaleString("en")}/s; best wall ${Math.round(results[name].wallRate).toLocaleString("en")}/s)`,
  );
}
const identical = results["ours, no keys"].sha256 === results["tshark, no keys"].sha256;
console.log(`outputs without keys byte-identical to tshark's: ${identical ? "yes" : "NO"}`);
const ratioNoKeys = results["ours, no keys"].rate / results["tshark, no keys"].rate;
const ratioKeys = results["ours, with keys"].rate / results["tshark, with keys"].rate;
console.log(
  `ratio without keys: ${ratioNoKeys.toFixed(2)}× tshark by best CPU time (target ≥ 5×); median CPU ${(results["ours, no keys"].medianRate / results["tshark, no keys"].medianRate).toFixed(2)}×; best wall ${(results["ours, no keys"].wallRate / results["tshark, no keys"].wallRate).toFixed(2)}×`,
);
console.log(
  `ratio with keys:    ${ratioKeys.toFixed(2)}× tshark by best CPU time (target ≥ 1×); median CPU ${(results["ours, with keys"].medianRate / results["tshark, with keys"].medianRate).toFixed(2)}×; best wall ${(results["ours, with keys"].wallRate / results["tshark, with keys"].wallRate).toFixed(2)}×; ours decrypted ${results["ours, with keys"].decrypted} transport messages`,
);
writeFileSync(
  join(here, "results.json"),
  `${JSON.stringify({ date: new Date().toISOString(), results, identical, ratioNoKeys, ratioKeys }, null, 2)}\n`,
);
