// What the embedded demo peer costs the thread it runs on, per echoed packet, next to a bare UDP
// echo in the same process: a client in a child process keeps WINDOW packets in flight, either
// WireGuard transport packets carrying a UDP echo to the demo peer (1,168-byte messages, as the
// page's flood) or plain datagrams of the same size to the bare echo. Rounds alternate the two.
// Prints echoes/s and this process's CPU µs per echo (the child's work is not counted).
//
//   npm run build -w @wiregate/relay && node apps/relay/bench/demo-echo.mjs
//   BENCH_PROFILE=1 also writes a CPU profile of this process's demo-peer rounds (.cpuprofile).
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 32);
/** Inner UDP payload: 1,100 bytes make 1,168-byte WireGuard messages. */
const PAYLOAD = 1100;
const MESSAGE = PAYLOAD + 28 + 32 + 8;

if (process.argv[2] === "client") await client();
else await server();

async function server() {
  const { DemoPeer } = await import("../dist/index.js");
  const demo = await DemoPeer.start();
  const echo = createSocket("udp4");
  echo.on("message", (m, from) => echo.send(m, from.port, from.address));
  await new Promise((resolve) => echo.bind(0, "127.0.0.1", resolve));
  const child = fork(new URL(import.meta.url).pathname, ["client"]);
  const replies = [];
  child.on("message", (m) => replies.shift()?.(m));
  const ask = (m) =>
    new Promise((resolve) => {
      replies.push(resolve);
      child.send(m);
    });
  await ask({ demoKey: demo.publicKey, demoPort: demo.port, echoPort: echo.address().port });

  const profiler = process.env.BENCH_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post("Profiler.enable");
  }
  const modes = ["demo", "echo"];
  const results = Object.fromEntries(modes.map((m) => [m, { cpu: [], rate: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < modes.length; j++) {
      const mode = modes[(j + round) % modes.length];
      if (profiler && mode === "demo") await profiler.post("Profiler.start");
      const cpuStart = process.cpuUsage();
      const { echoes, seconds } = await ask({ run: mode, seconds: SECONDS, window: WINDOW });
      const used = process.cpuUsage(cpuStart);
      if (profiler && mode === "demo") {
        const { profile } = await profiler.post("Profiler.stop");
        writeFileSync(`demo-echo-${round}.cpuprofile`, JSON.stringify(profile));
      }
      results[mode].cpu.push((used.user + used.system) / echoes);
      results[mode].rate.push(echoes / seconds);
    }
  }
  child.kill();
  echo.close();
  await demo.close();

  const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  console.log(`\n${MESSAGE}-byte messages, ${WINDOW} in flight, ${ROUNDS} rounds of ${SECONDS} s`);
  for (const mode of modes) {
    const r = results[mode];
    console.log(
      `  ${mode === "demo" ? "demo peer (WireGuard + UDP echo)" : "bare UDP echo"}: ` +
        `${Math.round(median(r.rate)).toLocaleString("en-US")} echoes/s, ` +
        `${median(r.cpu).toFixed(1)} CPU µs per echo (rounds: ${r.cpu.map((c) => c.toFixed(1)).join(", ")})`,
    );
  }
  console.log(
    `  demo peer ÷ bare echo, CPU per echo: ${(median(results.demo.cpu) / median(results.echo.cpu)).toFixed(2)}`,
  );
}

async function client() {
  const { generatePrivateKey } = await import("@wiregate/core");
  const { nodeCrypto, UdpDevice } = await import("@wiregate/core/node");
  const { buildUdp, DEMO_ECHO_PORT, DEMO_SERVER_V4, demoClientAddresses } = await import(
    "@wiregate/packets"
  );
  let onReply = () => {};
  let device;
  let raw;
  let packet;
  process.on("message", async (m) => {
    if (m.demoKey) {
      const privateKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
      const mine = demoClientAddresses(nodeCrypto.x25519Public(privateKey));
      device = await UdpDevice.start({
        privateKey,
        host: "127.0.0.1",
        onPacket: () => onReply(),
        peers: [
          {
            publicKey: Buffer.from(m.demoKey, "base64"),
            allowedIps: [`${DEMO_SERVER_V4}/32`],
            endpoint: { address: "127.0.0.1", port: m.demoPort },
          },
        ],
      });
      packet = buildUdp({
        source: mine.v4,
        destination: DEMO_SERVER_V4,
        sourcePort: 40_000,
        destinationPort: DEMO_ECHO_PORT,
        data: new Uint8Array(PAYLOAD),
      });
      raw = createSocket("udp4");
      raw.on("message", () => onReply());
      await new Promise((resolve) => raw.bind(0, "127.0.0.1", resolve));
      raw.connect(m.echoPort, "127.0.0.1");
      await new Promise((resolve) => raw.once("connect", resolve));
      // The handshake: the first echo back.
      await new Promise((resolve) => {
        onReply = resolve;
        device.send(packet);
      });
      process.send({});
      return;
    }
    const rawMessage = Buffer.alloc(MESSAGE);
    const send = m.run === "demo" ? () => device.send(packet) : () => raw.send(rawMessage);
    let echoes = 0;
    let inFlight = 0;
    const start = performance.now();
    const endsAt = start + m.seconds * 1000;
    const fill = () => {
      while (inFlight < m.window && performance.now() < endsAt) {
        inFlight++;
        send();
      }
    };
    await new Promise((resolve) => {
      // A packet lost on loopback gives its slot back after 50 ms without a reply.
      const sweep = setInterval(() => {
        if (performance.now() >= endsAt) {
          clearInterval(sweep);
          resolve();
        } else if (performance.now() - last > 50) {
          inFlight = 0;
          fill();
        }
      }, 50);
      let last = performance.now();
      onReply = () => {
        last = performance.now();
        echoes++;
        inFlight--;
        fill();
      };
      fill();
    });
    onReply = () => {};
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.send({ echoes, seconds: (performance.now() - start - 100) / 1000 });
  });
}
