// Load test: N concurrent sessions through a relay process to a UDP echo upstream on loopback.
// Reports datagrams/s, added latency vs direct UDP echo (same run), relay RSS per idle session, drops,
// losses, and CPU time per round trip in both processes. Bounded in count and time; loopback only.
// Options: --sessions=N --seconds=S --window=W --background-rate=R (per session, during the latency
// phase) --profile (relay under --cpu-prof) --transport=http3|http2|both (default both, one after
// the other in the same run, then the ratios) --probes=N (phase 2 round trips, default 2000)
// --size=B (WireGuard message bytes, default 64; 1168 is a full tunnel message that stays a QUIC
// datagram) --carriage=datagrams|stream|both (default datagrams; both: each transport on each).
//
// The echo runs in a worker thread with its own event loop and a large receive buffer: in the main
// thread, behind the clients' event loop, a default-sized buffer overflowed on every stall and each
// lost datagram shrank a session's window for good (a closed loop without loss recovery), which
// looked like the relay collapsing. Phase 1 now replaces a datagram that is not back within
// LOSS_MS and counts it as lost.

import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { quicheLoaded, WebTransport } from "@fails-components/webtransport";
import { connectRelay } from "@wiregate/relay-protocol";

console.log = () => {}; // the library's console notes
console.error = () => {};
const print = (line) => process.stdout.write(`${line}\n`);
const progress = (line) => process.stderr.write(`[load] ${line}\n`);
/** Waits for `setup(resolve)` to resolve, or gives up after `ms` (a lost datagram). */
const within = (ms, setup) =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    setup(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "200" },
    seconds: { type: "string", default: "5" },
    window: { type: "string", default: "4" },
    "background-rate": { type: "string", default: "25" },
    profile: { type: "boolean", default: false },
    transport: { type: "string", default: "both" },
    probes: { type: "string", default: "2000" },
    size: { type: "string", default: "64" },
    carriage: { type: "string", default: "datagrams" },
  },
});
/** HTTP/3 (QUIC datagrams, the add-on's Node client) and/or HTTP/2 (the library's capsules). */
const TRANSPORTS = values.transport === "both" ? ["http3", "http2"] : [values.transport];
if (!TRANSPORTS.every((t) => t === "http3" || t === "http2"))
  throw new Error(`--transport must be http3, http2 or both, not ${values.transport}`);
const CARRIAGES = values.carriage === "both" ? ["datagrams", "stream"] : [values.carriage];
if (!CARRIAGES.every((c) => c === "datagrams" || c === "stream"))
  throw new Error(`--carriage must be datagrams, stream or both, not ${values.carriage}`);
/** Message bytes: room for the type, session, sequence and send time; at most a full message. */
const SIZE = Math.max(32, Math.min(1452, Number(values.size)));
const SESSIONS = Math.min(1000, Number(values.sessions));
const SECONDS = Math.min(30, Number(values.seconds));
const WINDOW = Math.min(64, Number(values.window));
const BACKGROUND_RATE = Math.min(1000, Number(values["background-rate"]));
const LOSS_MS = 1000;
/** Phase 2 round trips (a lost one costs LOSS_MS). */
const PROBES = Math.min(10_000, Number(values.probes));
const TOKEN = "load-test-token-0123456789";
const root = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

/** CPU time (user + system) of another process, in ms. */
function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * The network namespace's UDP datagrams and TCP segments sent so far (`/proc/net/snmp`): every
 * process on loopback counts, so read it on a machine with nothing else on the network.
 */
function packetsSent() {
  const lines = readFileSync("/proc/net/snmp", "utf8").split("\n");
  const field = (proto, name) => {
    const [head, values] = lines.filter((l) => l.startsWith(`${proto}:`));
    return Number(values.split(/\s+/)[head.split(/\s+/).indexOf(name)]);
  };
  return { udp: field("Udp", "OutDatagrams"), tcp: field("Tcp", "OutSegs") };
}

function cpuMsSelf() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

// --- UDP echo upstream (worker thread) ----------------------------------------------------
const echoWorker = new Worker(
  `
  const { parentPort } = require("node:worker_threads");
  const { createSocket } = require("node:dgram");
  const echo = createSocket({ type: "udp4", recvBufferSize: 4 * 1024 * 1024 });
  let echoed = 0;
  echo.on("message", (msg, from) => { echoed++; echo.send(msg, from.port, from.address); });
  echo.bind(0, "127.0.0.1", () => parentPort.postMessage({ port: echo.address().port, recvBufferSize: echo.getRecvBufferSize() }));
  parentPort.on("message", (m) => { if (m === "count") parentPort.postMessage({ echoed }); else if (m === "close") { echoWorker.postMessage("close"); parentPort.close(); } });
  `,
  { eval: true },
);
const echoInfo = await new Promise((resolve) => echoWorker.once("message", resolve));
const echoPort = echoInfo.port;
const echoCount = () =>
  new Promise((resolve) => {
    echoWorker.once("message", (m) => resolve(m.echoed));
    echoWorker.postMessage("count");
  });

// --- direct UDP baseline -----------------------------------------------------------------
async function directRoundTrips(count) {
  const probe = createSocket("udp4");
  await new Promise((r) => probe.bind(0, "127.0.0.1", r));
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const ok = await within(1000, (resolve) => {
      probe.once("message", resolve);
      probe.send(new Uint8Array(64), echoPort, "127.0.0.1");
    });
    if (ok) times.push(performance.now() - start);
    probe.removeAllListeners("message");
  }
  probe.close();
  return times.sort((a, b) => a - b);
}

/** One relay process and SESSIONS clients on one transport; prints its lines, returns the key numbers. */
async function measure(transport, carriage) {
  const print = (line) => process.stdout.write(`[${transport} ${carriage}] ${line}\n`);
  // --- relay process -----------------------------------------------------------------------
  const profileDir = mkdtempSync(join(tmpdir(), "wiregate-relay-profile-"));
  const relay = spawn(
    process.execPath,
    [
      ...(values.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
      join(root, "dist/cli.js"),
      "--port=0",
      "--ops-port=0",
      `--cert-dir=${mkdtempSync(join(tmpdir(), "wiregate-relay-load-"))}`,
      `--upstream=echo=127.0.0.1:${echoPort}`,
      `--max-sessions=${SESSIONS + 10}`,
      `--max-sessions-per-address=${SESSIONS + 10}`,
      // Every load session comes from 127.0.0.1 and connects 20 at a time.
      `--max-connections-per-address=${SESSIONS + 10}`,
      "--max-pending-per-address=32",
      "--log-level=info",
    ],
    { env: { ...process.env, WIREGATE_RELAY_TOKENS: TOKEN }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const listening = await new Promise((resolve, reject) => {
    let buffer = "";
    relay.stdout.on("data", (chunk) => {
      buffer += chunk;
      for (const line of buffer.split("\n")) {
        if (line.includes('"relay listening"')) resolve(JSON.parse(line));
      }
    });
    relay.once("exit", () => reject(new Error("relay exited")));
    setTimeout(() => reject(new Error("relay did not start")), 15_000);
  });
  const hash = Uint8Array.from(Buffer.from(listening.certificateSha256, "hex"));
  const opsUrl = listening.ops;
  const baselineRss = rssKiB(relay.pid);

  async function metric(series) {
    const text = await (await fetch(`${opsUrl}/metrics`)).text();
    return text
      .split("\n")
      .filter((l) => l.startsWith(series))
      .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  }

  // --- sessions ----------------------------------------------------------------------------
  await quicheLoaded;
  const handlers = new Array(SESSIONS).fill(null);
  const connections = [];
  const connectStart = performance.now();
  for (let i = 0; i < SESSIONS; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(SESSIONS, i + 20); j++) {
      batch.push(
        connectRelay({
          WebTransport,
          url: listening.url,
          token: TOKEN,
          upstream: "echo",
          serverCertificateHashes: [{ algorithm: "sha-256", value: hash }],
          transportOptions:
            transport === "http3" ? { requireUnreliable: true } : { forceReliable: true },
          onDatagram: (d) => handlers[j]?.(d),
          carriage,
        }),
      );
    }
    connections.push(...(await Promise.all(batch)));
    progress(`connecting: ${connections.length}`);
  }
  progress(`connected ${connections.length} sessions`);
  const connectSeconds = (performance.now() - connectStart) / 1000;
  await sleep(1000);
  global.gc?.();
  const idleRss = rssKiB(relay.pid);

  function message(session, seq) {
    const bytes = new Uint8Array(SIZE);
    bytes[0] = 4;
    const view = new DataView(bytes.buffer);
    view.setUint32(4, session, true);
    view.setUint32(8, seq, true);
    view.setFloat64(16, performance.now(), true);
    return bytes;
  }

  // --- phase 1: throughput (each session keeps WINDOW datagrams in flight) ------------------
  // A datagram not back within LOSS_MS is counted as lost and replaced, so a loss on a UDP hop
  // cannot shrink the window for the rest of the run.
  const dropsBefore = await metric("wiregate_relay_drops_total");
  const relayToUpstreamBefore = await metric(
    'wiregate_relay_datagrams_total{direction="to_upstream"',
  );
  const relayToClientBefore = await metric('wiregate_relay_datagrams_total{direction="to_client"');
  const echoBefore = await echoCount();
  let echoed = 0;
  let sent = 0;
  let lost = 0;
  let running = true;
  const phaseRtts = [];
  /** Per session: sequence number → send time of the datagrams in flight. */
  const inFlight = connections.map(() => new Map());
  const nextSeq = new Array(SESSIONS).fill(0);
  const sendOne = (i) => {
    const seq = nextSeq[i]++;
    const message_ = message(i, seq);
    inFlight[i].set(seq, performance.now());
    sent++;
    connections[i].send(message_);
  };
  for (let i = 0; i < SESSIONS; i++) {
    handlers[i] = (d) => {
      const seq = new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(8, true);
      const at = inFlight[i].get(seq);
      if (at === undefined) return; // already counted as lost
      inFlight[i].delete(seq);
      echoed++;
      if (phaseRtts.length < 200_000) phaseRtts.push(performance.now() - at);
      if (running) sendOne(i);
    };
  }
  const lossSweep = setInterval(() => {
    const cutoff = performance.now() - LOSS_MS;
    for (let i = 0; i < SESSIONS; i++) {
      for (const [seq, at] of inFlight[i]) {
        if (at >= cutoff) continue;
        inFlight[i].delete(seq);
        lost++;
        if (running) sendOne(i);
      }
    }
  }, 100);
  const relayCpuBefore = cpuMsOf(relay.pid);
  const selfCpuBefore = cpuMsSelf();
  const packetsBefore = packetsSent();
  const throughputStart = performance.now();
  for (let i = 0; i < SESSIONS; i++) for (let w = 0; w < WINDOW; w++) sendOne(i);
  await sleep(SECONDS * 1000);
  const throughputSeconds = (performance.now() - throughputStart) / 1000;
  const echoedInPhase = echoed;
  const relayCpu = cpuMsOf(relay.pid) - relayCpuBefore;
  const selfCpu = cpuMsSelf() - selfCpuBefore;
  const packetsAfter = packetsSent();
  running = false;
  await sleep(LOSS_MS + 200);
  clearInterval(lossSweep);
  const relayToUpstream =
    (await metric('wiregate_relay_datagrams_total{direction="to_upstream"')) -
    relayToUpstreamBefore;
  const relayToClient =
    (await metric('wiregate_relay_datagrams_total{direction="to_client"')) - relayToClientBefore;
  const echoedByUpstream = (await echoCount()) - echoBefore;
  phaseRtts.sort((a, b) => a - b);
  // Where HTTP/3's losses happen on the clients' side: QUIC's own counters (undefined over HTTP/2).
  const clientLosses = { expiredOutgoing: 0, lostOutgoing: 0 };
  for (const conn of connections) {
    const losses = await conn.datagramLosses();
    clientLosses.expiredOutgoing += losses?.expiredOutgoing ?? 0;
    clientLosses.lostOutgoing += losses?.lostOutgoing ?? 0;
  }
  progress(`throughput phase done: ${echoedInPhase} echoed, ${lost} lost`);

  // --- phase 2: latency at moderate load ---------------------------------------------------
  const direct = await directRoundTrips(PROBES);
  for (let i = 0; i < SESSIONS; i++) handlers[i] = null;
  const background = setInterval(() => {
    const perTick = BACKGROUND_RATE / 100;
    for (let i = 1; i < SESSIONS; i++)
      if (Math.random() < perTick) connections[i].send(message(i, 0));
  }, 10);
  const probe = connections[0];
  const rtts = [];
  let probeLost = 0;
  for (let k = 0; k < PROBES; k++) {
    const start = performance.now();
    const ok = await within(LOSS_MS, (resolve) => {
      handlers[0] = resolve;
      probe.send(message(0, k));
    });
    if (ok) rtts.push(performance.now() - start);
    else probeLost++;
  }
  clearInterval(background);
  rtts.sort((a, b) => a - b);
  await sleep(300);
  const drops = (await metric("wiregate_relay_drops_total")) - dropsBefore;

  // --- report ------------------------------------------------------------------------------
  const fmt = (n, d = 3) => n.toFixed(d);
  print(
    `sessions: ${SESSIONS} (connected in ${fmt(connectSeconds, 1)} s); echo receive buffer ${echoInfo.recvBufferSize} bytes`,
  );
  print(
    `throughput: ${Math.round(echoedInPhase / throughputSeconds)} round trips/s = ` +
      `${Math.round((2 * echoedInPhase) / throughputSeconds)} datagrams/s through the relay ` +
      `(${SIZE}-byte messages on ${carriage}, window ${WINDOW}/session, ${fmt(throughputSeconds, 1)} s)`,
  );
  print(
    `round trip under full load: p50 ${fmt(percentile(phaseRtts, 50))} ms, p99 ${fmt(percentile(phaseRtts, 99))} ms; ` +
      `sent ${sent}, lost ${lost} (relay→upstream ${relayToUpstream}, echoed by upstream ${echoedByUpstream}, ` +
      `relay→client ${relayToClient}); clients' QUIC: expired in the send queue ${clientLosses.expiredOutgoing}, ` +
      `declared lost ${clientLosses.lostOutgoing}`,
  );
  print(
    `CPU per round trip: relay ${fmt((relayCpu * 1000) / echoedInPhase, 1)} µs, load process ` +
      `${fmt((selfCpu * 1000) / echoedInPhase, 1)} µs (relay ${fmt((100 * relayCpu) / (throughputSeconds * 1000), 0)} % ` +
      `of a core, load process ${fmt((100 * selfCpu) / (throughputSeconds * 1000), 0)} %)`,
  );
  const perRoundTrip = (n) => n / echoedInPhase;
  const udpPerRoundTrip = perRoundTrip(packetsAfter.udp - packetsBefore.udp);
  const tcpPerRoundTrip = perRoundTrip(packetsAfter.tcp - packetsBefore.tcp);
  print(
    `packets sent per round trip (all of loopback, /proc/net/snmp; the upstream hop is 2 of the UDP ` +
      `ones): UDP ${fmt(udpPerRoundTrip, 2)}, TCP segments ${fmt(tcpPerRoundTrip, 2)}`,
  );
  print(
    `direct UDP echo RTT: p50 ${fmt(percentile(direct, 50))} ms, p99 ${fmt(percentile(direct, 99))} ms`,
  );
  print(
    `relay RTT at ~${Math.round(BACKGROUND_RATE * (SESSIONS - 1))} datagrams/s background: ` +
      `p50 ${fmt(percentile(rtts, 50))} ms, p99 ${fmt(percentile(rtts, 99))} ms`,
  );
  print(
    `added latency: p50 ${fmt(percentile(rtts, 50) - percentile(direct, 50))} ms, ` +
      `p99 ${fmt(percentile(rtts, 99) - percentile(direct, 99))} ms`,
  );
  print(
    `relay RSS: ${Math.round(baselineRss / 1024)} MiB empty, ${Math.round(idleRss / 1024)} MiB with ${SESSIONS} idle sessions ` +
      `= ${Math.round((idleRss - baselineRss) / SESSIONS)} KiB per session`,
  );
  print(`relay drops during the run: ${drops}; probe round trips lost: ${probeLost}`);

  for (const conn of connections) conn.close();
  relay.kill("SIGTERM");
  await new Promise((r) => relay.once("exit", r));
  if (values.profile) {
    const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
    if (file) {
      const profile = JSON.parse(readFileSync(join(profileDir, file), "utf8"));
      const self = new Map();
      const dt = profile.timeDeltas;
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      let total = 0;
      profile.samples.forEach((id, i) => {
        const node = byId.get(id);
        const frame = node.callFrame;
        const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/node_modules/").at(-1).split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`;
        self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0));
        total += dt[i] ?? 0;
      });
      print(`relay CPU profile (${join(profileDir, file)}), top self time:`);
      for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
        print(`  ${fmt((100 * us) / total, 1).padStart(5)}%  ${key}`);
      }
    }
  }
  return {
    datagramsPerSecond: (2 * echoedInPhase) / throughputSeconds,
    addedP50: percentile(rtts, 50) - percentile(direct, 50),
    addedP99: percentile(rtts, 99) - percentile(direct, 99),
    perSessionKiB: (idleRss - baselineRss) / SESSIONS,
    cpuUsPerRoundTrip: ((relayCpu + selfCpu) * 1000) / echoedInPhase,
    packetsPerRoundTrip: udpPerRoundTrip + tcpPerRoundTrip,
    lost,
    probeLost,
  };
}

const results = {};
const modes = TRANSPORTS.flatMap((transport) => CARRIAGES.map((carriage) => [transport, carriage]));
for (const [transport, carriage] of modes)
  results[`${transport} ${carriage}`] = await measure(transport, carriage);
echoWorker.postMessage("close");
if (modes.length > 1) {
  const first = modes[0].join(" ");
  const base = results[first];
  for (const [mode, r] of Object.entries(results)) {
    print(
      `${mode} (${SIZE}-byte messages, ${SESSIONS} sessions, same run): ${Math.round(r.datagramsPerSecond)} messages/s ` +
        `(× ${(r.datagramsPerSecond / base.datagramsPerSecond).toFixed(2)} of ${first}), CPU per round trip ` +
        `relay + clients ${r.cpuUsPerRoundTrip.toFixed(0)} µs (× ${(r.cpuUsPerRoundTrip / base.cpuUsPerRoundTrip).toFixed(2)}), ` +
        `packets per round trip ${r.packetsPerRoundTrip.toFixed(2)}, added latency p50 ${r.addedP50.toFixed(3)} ms, ` +
        `lost ${r.lost}`,
    );
  }
}
const http3 = results["http3 datagrams"];
const http2 = results["http2 datagrams"];
if (http3 && http2) {
  const fmt = (n, d = 3) => n.toFixed(d);
  print(
    `HTTP/3 vs HTTP/2 (${SESSIONS} sessions, same run): datagrams/s ${Math.round(http3.datagramsPerSecond)} vs ` +
      `${Math.round(http2.datagramsPerSecond)} (× ${fmt(http3.datagramsPerSecond / http2.datagramsPerSecond, 2)}); ` +
      `CPU per round trip, relay + clients ${fmt(http3.cpuUsPerRoundTrip, 0)} vs ${fmt(http2.cpuUsPerRoundTrip, 0)} µs ` +
      `(× ${fmt(http3.cpuUsPerRoundTrip / http2.cpuUsPerRoundTrip, 2)}); packets per round trip ` +
      `${fmt(http3.packetsPerRoundTrip, 2)} vs ${fmt(http2.packetsPerRoundTrip, 2)}; ` +
      `added latency p50 ${fmt(http3.addedP50)} vs ${fmt(http2.addedP50)} ms, p99 ${fmt(http3.addedP99)} vs ` +
      `${fmt(http2.addedP99)} ms; memory per idle session ${Math.round(http3.perSessionKiB)} vs ` +
      `${Math.round(http2.perSessionKiB)} KiB (× ${fmt(http3.perSessionKiB / http2.perSessionKiB, 2)}); lost ${http3.lost} vs ${http2.lost}, ` +
      `probe round trips lost ${http3.probeLost} vs ${http2.probeLost}`,
  );
}
process.exit(0);
