/**
 * Our TCP/IP stack next to the Linux kernel's, over the same wireguard-go path, in one run:
 *   ours:   netstack → our core (Node UDP) → wireguard-go [server ns] → kernel HTTP server
 *   kernel: kernel TCP → wireguard-go [client ns] → wireguard-go [server ns] → kernel HTTP server
 * Rounds alternate kernel and ours, so both see the same load on a shared machine: 50 MB
 * downloads and 10 MB uploads without loss, then 10 MB down and up with 1 % random loss each way
 * on the server's wg interface; the lossy upload also with our stack on NewReno instead of SACK
 * recovery (a second peer), to show what SACK on the send side pays; then 10 MB up with 3 % loss
 * each way. Prints each round's ratio ours / kernel (throughput: higher is better for us) and
 * the median and range of each measure. BENCH_ROUNDS sets the rounds (default 5).
 * BENCH_BASELINE_DIST=<another build's packages/netstack/dist> adds a peer on that build's stack
 * (same core) and compares the uploads of this build with it, round by round, in the same run.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpRequest, type Netstack } from "@wiregate/netstack";
import { afterAll, beforeAll, it } from "vitest";
import { startHttpServer } from "../helpers/http-server.js";
import { generateKeyPair, startWireGuardPeer, type WireGuardPeer } from "../helpers/netns.js";
import { type NetstackPeer, repeatingBody, startNetstackPeer } from "../helpers/netstack-peer.js";
import { addRandomLoss, type LossCount } from "../helpers/random-loss.js";

const SERVER = { v4: "10.86.0.1", v6: "fd86::1" };
const OURS = { v4: "10.86.0.2", v6: "fd86::2" };
const KERNEL = { v4: "10.86.0.3", v6: "fd86::3" };
const RENO = { v4: "10.86.0.4", v6: "fd86::4" }; // our stack with NewReno instead of SACK recovery
const BASE = { v4: "10.86.0.5", v6: "fd86::5" }; // another build's stack (BENCH_BASELINE_DIST)
const BASELINE_DIST = process.env.BENCH_BASELINE_DIST;
const PORT = 8080;
const MB = 1024 * 1024;

let server: WireGuardPeer;
let client: WireGuardPeer;
let ours: NetstackPeer;
let reno: NetstackPeer;
let base: NetstackPeer | undefined;
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "wiregate-bench-"));
  server = await startWireGuardPeer({
    addresses: [`${SERVER.v4}/24`, `${SERVER.v6}/64`],
    logLevel: "error",
  });
  await startHttpServer(server.ns, PORT, directory);
  client = await startWireGuardPeer({
    addresses: [`${KERNEL.v4}/24`, `${KERNEL.v6}/64`],
    logLevel: "error",
    peers: [
      {
        publicKey: server.publicKey,
        allowedIPs: [`${SERVER.v4}/32`, `${SERVER.v6}/128`],
        endpoint: server.endpoint,
      },
    ],
  });
  await server.setPeer({
    publicKey: client.publicKey,
    allowedIPs: [`${KERNEL.v4}/32`, `${KERNEL.v6}/128`],
    endpoint: client.endpoint,
  });
  ours = await startNetstackPeer(server, { ...(await generateKeyPair()), ...OURS }, SERVER);
  reno = await startNetstackPeer(server, { ...(await generateKeyPair()), ...RENO }, SERVER, 1420, {
    sackRecovery: false,
  });
  if (BASELINE_DIST) {
    const built = (await import(join(BASELINE_DIST, "index.js"))) as { Netstack: typeof Netstack };
    const keys = await generateKeyPair();
    base = await startNetstackPeer(server, { ...keys, ...BASE }, SERVER, 1420, {}, built.Netstack);
  }
});

afterAll(async () => {
  await ours?.close();
  await reno?.close();
  await base?.close();
  await client?.stop();
  await server?.stop();
  rmSync(directory, { recursive: true, force: true });
});

const BLOCK = new Uint8Array(65536).map((_, i) => (i * 7) & 0xff);

async function timed(run: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await run();
  return (performance.now() - start) / 1000;
}

async function oursDownload(net: Netstack, n: number): Promise<number> {
  return timed(async () => {
    const response = await httpRequest(net, { host: SERVER.v4, port: PORT, path: `/bytes/${n}` });
    const h = createHash("sha256");
    let length = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      h.update(chunk);
      length += chunk.length;
    }
    if (length !== n) throw new Error(`ours: got ${length} of ${n} bytes`);
  });
}

async function oursUpload(net: Netstack, n: number): Promise<number> {
  return timed(async () => {
    const body = repeatingBody(BLOCK, n);
    const response = await httpRequest(net, {
      host: SERVER.v4,
      port: PORT,
      method: "PUT",
      path: "/",
      body,
      bodyLength: n,
    });
    const digest = await new Response(response.body).text();
    if (response.status !== 200 || digest.length !== 64) throw new Error(`ours: upload ${digest}`);
  });
}

/** The kernel's TCP in the client namespace, timed by python itself. */
async function kernel(script: string): Promise<number> {
  const r = await client.ns.exec("python3", ["-c", script]);
  return Number(r.stdout.trim());
}

const kernelDownload = (n: number) =>
  kernel(`
import time, urllib.request, hashlib
t = time.monotonic(); h = hashlib.sha256(); n = 0
with urllib.request.urlopen("http://${SERVER.v4}:${PORT}/bytes/${n}", timeout=600) as r:
    while True:
        b = r.read(65536)
        if not b: break
        h.update(b); n += len(b)
assert n == ${n}, n
print(time.monotonic() - t)`);

const kernelUpload = (n: number) =>
  kernel(`
import time, urllib.request
block = bytes((i * 7) & 0xff for i in range(65536))
def body():
    left = ${n}
    while left > 0:
        k = min(left, len(block)); yield block[:k]; left -= k
t = time.monotonic()
req = urllib.request.Request("http://${SERVER.v4}:${PORT}/", data=body(), method="PUT",
                             headers={"Content-Length": "${n}"})
with urllib.request.urlopen(req, timeout=600) as r:
    assert len(r.read()) == 64
print(time.monotonic() - t)`);

/** What our stack's senders did: retransmissions, timeouts and loss probes, since `before`. */
function senderStats(net: Netstack, before = { ...net.stack.stats }) {
  return () => {
    const s = net.stack.stats;
    return `retransmissions ${s.retransmissions - before.retransmissions}, timeouts ${s.timeouts - before.timeouts}, loss probes ${s.lossProbes - before.lossProbes}`;
  };
}

/** Runs `run` with `percent` % random loss each way on the server's wg interface, per segment. */
async function withLoss(percent: number, run: () => Promise<void>): Promise<string> {
  const loss = await addRandomLoss(server.ns, server.ifname, percent);
  const ourStats = senderStats(ours.net);
  try {
    await run();
    const { input, output } = await loss.counts();
    const rate = (c: LossCount) =>
      `${((100 * c.dropped) / c.seen).toFixed(2)} % of ${c.seen} (${c.oversized} larger than the MTU)`;
    return `${percent} % loss on the server's wg: in ${rate(input)}, out ${rate(output)}; this build's stack: ${ourStats()}`;
  } finally {
    await loss.remove();
  }
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** Alternates theirs (the kernel's) and ours `ROUNDS` times; prints each ratio, returns the summary. */
async function compare(
  label: string,
  n: number,
  ours: () => Promise<number>,
  theirs: () => Promise<number>,
  name = "kernel",
): Promise<string> {
  const ratios: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const k = await theirs();
    const o = await ours();
    ratios.push(k / o);
    console.log(
      `${label} #${round}: ours ${(n / MB / o).toFixed(1)} MB/s, ${name} ${(n / MB / k).toFixed(1)} MB/s, ratio ${(k / o).toFixed(2)}×`,
    );
  }
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  return `${label.padEnd(26)} ratio median ${median.toFixed(2)}×, range ${ratios[0]!.toFixed(2)}–${ratios[ratios.length - 1]!.toFixed(2)}× (${ROUNDS} rounds)`;
}

/** This build's upload against the baseline build's (BENCH_BASELINE_DIST) in the same rounds. */
const againstBaseline = (label: string, net: Netstack) =>
  compare(
    `${label}, vs baseline`,
    10 * MB,
    () => oursUpload(ours.net, 10 * MB),
    () => oursUpload(net, 10 * MB),
    "baseline",
  );

it("netstack vs kernel TCP over wireguard-go", async () => {
  await oursDownload(ours.net, MB); // handshake and warm-up, every path
  await oursDownload(reno.net, MB);
  if (base) await oursDownload(base.net, MB);
  await kernelDownload(MB);
  const lines = [
    await compare(
      "50 MB down, no loss",
      50 * MB,
      () => oursDownload(ours.net, 50 * MB),
      () => kernelDownload(50 * MB),
    ),
    await compare(
      "10 MB up, no loss",
      10 * MB,
      () => oursUpload(ours.net, 10 * MB),
      () => kernelUpload(10 * MB),
    ),
    ...(base ? [await againstBaseline("10 MB up, no loss", base.net)] : []),
  ];
  const lossLine = await withLoss(1, async () => {
    lines.push(
      await compare(
        "10 MB down, 1 % loss",
        10 * MB,
        () => oursDownload(ours.net, 10 * MB),
        () => kernelDownload(10 * MB),
      ),
      await compare(
        "10 MB up, 1 % loss",
        10 * MB,
        () => oursUpload(ours.net, 10 * MB),
        () => kernelUpload(10 * MB),
      ),
      await compare(
        "10 MB up, 1 % loss, NewReno",
        10 * MB,
        () => oursUpload(reno.net, 10 * MB),
        () => kernelUpload(10 * MB),
      ),
      ...(base ? [await againstBaseline("10 MB up, 1 % loss", base.net)] : []),
    );
  });
  const heavyLossLine = await withLoss(3, async () => {
    lines.push(
      await compare(
        "10 MB up, 3 % loss",
        10 * MB,
        () => oursUpload(ours.net, 10 * MB),
        () => kernelUpload(10 * MB),
      ),
      ...(base ? [await againstBaseline("10 MB up, 3 % loss", base.net)] : []),
    );
  });
  console.log(
    `\n${lines.join("\n")}\n${lossLine}\n${heavyLossLine}\n(ratio = our throughput / the kernel's, or the baseline build's, in the same round; target ≥ 0.5× without loss)`,
  );
});
