/**
 * Our TCP/IP stack next to the Linux kernel's, over the same wireguard-go path, in one run:
 *   ours:   netstack → our core (Node UDP) → wireguard-go [server ns] → kernel HTTP server
 *   kernel: kernel TCP → wireguard-go [client ns] → wireguard-go [server ns] → kernel HTTP server
 * 50 MB downloads without loss, then 10 MB with 1 % random loss each way on the server's wg
 * interface. Prints times and the ratio ours / kernel (throughput: higher is better for us).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpRequest, type Netstack } from "@wiregate/netstack";
import { afterAll, beforeAll, it } from "vitest";
import { startHttpServer } from "../helpers/http-server.js";
import { generateKeyPair, startWireGuardPeer, type WireGuardPeer } from "../helpers/netns.js";
import { type NetstackPeer, startNetstackPeer } from "../helpers/netstack-peer.js";

const SERVER = { v4: "10.86.0.1", v6: "fd86::1" };
const OURS = { v4: "10.86.0.2", v6: "fd86::2" };
const KERNEL = { v4: "10.86.0.3", v6: "fd86::3" };
const PORT = 8080;
const MB = 1024 * 1024;

let server: WireGuardPeer;
let client: WireGuardPeer;
let ours: NetstackPeer;
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
});

afterAll(async () => {
  await ours?.close();
  await client?.stop();
  await server?.stop();
  rmSync(directory, { recursive: true, force: true });
});

async function oursDownload(net: Netstack, n: number): Promise<number> {
  const start = performance.now();
  const response = await httpRequest(net, { host: SERVER.v4, port: PORT, path: `/bytes/${n}` });
  const h = createHash("sha256");
  let length = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    h.update(chunk);
    length += chunk.length;
  }
  if (length !== n) throw new Error(`ours: got ${length} of ${n} bytes`);
  return (performance.now() - start) / 1000;
}

async function kernelDownload(n: number): Promise<number> {
  const script = `
import time, urllib.request, hashlib
t = time.monotonic(); h = hashlib.sha256(); n = 0
with urllib.request.urlopen("http://${SERVER.v4}:${PORT}/bytes/${n}", timeout=600) as r:
    while True:
        b = r.read(65536)
        if not b: break
        h.update(b); n += len(b)
assert n == ${n}, n
print(time.monotonic() - t)`;
  const r = await client.ns.exec("python3", ["-c", script]);
  return Number(r.stdout.trim());
}

async function withLoss<T>(percent: number, run: () => Promise<T>): Promise<T> {
  const table = "wiregate_bench_loss";
  const ns = server.ns;
  await ns.exec("nft", ["add", "table", "inet", table]);
  for (const [chain, hook, dir] of [
    ["in", "input", "iifname"],
    ["out", "output", "oifname"],
  ] as const) {
    await ns.exec("nft", [
      "add",
      "chain",
      "inet",
      table,
      chain,
      `{ type filter hook ${hook} priority 0; }`,
    ]);
    await ns.exec("nft", [
      "add",
      "rule",
      "inet",
      table,
      chain,
      dir,
      server.ifname,
      "numgen",
      "random",
      "mod",
      "100",
      "<",
      String(percent),
      "drop",
    ]);
  }
  try {
    return await run();
  } finally {
    await ns.exec("nft", ["delete", "table", "inet", table]);
  }
}

const line = (label: string, n: number, ourTime: number, kernelTime: number) =>
  `${label.padEnd(22)} ours ${ourTime.toFixed(2)} s (${(n / MB / ourTime).toFixed(1)} MB/s)  kernel ${kernelTime.toFixed(2)} s (${(n / MB / kernelTime).toFixed(1)} MB/s)  ratio ${(kernelTime / ourTime).toFixed(2)}×`;

it("netstack vs kernel TCP over wireguard-go", async () => {
  await oursDownload(ours.net, MB); // handshake and warm-up, both paths
  await kernelDownload(MB);
  const lines: string[] = [];
  for (let round = 1; round <= 2; round++) {
    const k = await kernelDownload(50 * MB);
    const o = await oursDownload(ours.net, 50 * MB);
    lines.push(line(`50 MB, no loss (#${round})`, 50 * MB, o, k));
  }
  const lossy = await withLoss(1, async () => {
    const k = await kernelDownload(10 * MB);
    const o = await oursDownload(ours.net, 10 * MB);
    return line("10 MB, 1 % loss", 10 * MB, o, k);
  });
  lines.push(lossy);
  console.log(
    `\n${lines.join("\n")}\n(ratio = our throughput / the kernel's; target ≥ 0.5× without loss)`,
  );
});
