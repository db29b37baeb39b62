/**
 * The SSH screen, measured against references in the same run, with Debian's sshd behind
 * wireguard-go in a namespace:
 * - keystroke echo latency (a key pressed in the page to its echo drawn in the terminal, through
 *   the tunnel, p50/p95) next to OpenSSH's own client typing to the same sshd directly over the
 *   namespace's link (a key written to ssh's pseudo-terminal to its echo read back);
 * - bulk throughput of `cat` of a 10 MB text file through the terminal next to a 10 MB download
 *   through the Browse screen from the same namespace's kernel HTTP server.
 * Rounds alternate (BENCH_ROUNDS, default 2); BENCH_KEYS keystrokes per round (default 100).
 * Writes test-results/ssh-bench.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Frame } from "playwright-core";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import { runCommand } from "../../../test/helpers/command.js";
import { startHttpServer } from "../../../test/helpers/http-server.js";
import { startWireGuardPeer } from "../../../test/helpers/netns.js";
import { startSshd } from "../../../test/helpers/sshd.js";
import { focusTerminal, login, run, screenText, sshConnected } from "../test/ssh-screen.js";
import {
  chromiumBrowser,
  connectTunnel,
  newContext,
  openForPeer,
  openTab,
  pageKeyPair,
  RESULTS,
  requireBuild,
  startRelay,
  wgUpstream,
} from "../test/stack.js";
import { percentile } from "./percentile.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const KEYS = Number(process.env.BENCH_KEYS ?? 100);
const BULK = 10_000_000;
const SERVER = "10.80.0.1";

const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
};

const closers = closeAfterAll();

/** OpenSSH's client in a pseudo-terminal: the time from writing "x" to reading its echo. */
const DIRECT = `
import json, os, pty, sys, termios, time
key, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.execvp("ssh", ["ssh", "-tt", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", target])
def until(marker):
    seen = b""
    while marker not in seen:
        seen += os.read(fd, 4096)
until(b"$ ")
os.write(fd, b"clear\\r"); until(b"$ ")
out = []
for i in range(n):
    t = time.perf_counter(); os.write(fd, b"x"); until(b"x")
    out.append((time.perf_counter() - t) * 1000)
# The echo came from the server: ssh put the local pseudo-terminal in raw mode (no local echo).
remote = not (termios.tcgetattr(fd)[3] & termios.ECHO)
os.write(fd, b"\\x15exit\\r")
try:
    while os.read(fd, 4096): pass
except OSError: pass
print(json.dumps({"ms": out, "remoteEcho": remote}))
`;

it("SSH: keystroke echo and bulk cat through the tunnel, next to OpenSSH direct and Browse", {
  timeout: 600_000,
}, async () => {
  requireBuild();
  const client = pageKeyPair();
  const peer = await startWireGuardPeer({
    addresses: [`${SERVER}/24`],
    peers: [{ publicKey: client.publicKey, allowedIPs: ["10.80.0.2/32"] }],
    logLevel: "error",
  });
  closers.push(() => peer.stop());
  const sshd = await startSshd(peer.ns);
  closers.push(() => sshd.stop());
  const dir = mkdtempSync(join(tmpdir(), "wiregate-ssh-bench-"));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  await startHttpServer(peer.ns, 8080, dir);
  const key = join(dir, "id_ecdsa");
  await runCommand("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", key]);
  sshd.authorize([readFileSync(`${key}.pub`, "utf8").trim()]);

  const relay = await startRelay([wgUpstream(peer)], 0, true, true);
  closers.push(() => relay.stop());
  const chromium = await chromiumBrowser();
  closers.push(() => chromium.close());
  const page = await (await newContext(chromium, undefined, true)).newPage();
  await openForPeer(page, relay.address, {
    client,
    peerPublicKey: peer.publicKey,
    addresses: ["10.80.0.2/32"],
    allowedIPs: ["10.80.0.0/24"],
  });
  const badge = await connectTunnel(page);

  // The SSH session (password), its terminal focused.
  await page.getByRole("tab", { name: "SSH", exact: true }).click();
  await login(page, { host: SERVER, port: sshd.port, user: sshd.user, password: sshd.password });
  await page.getByRole("button", { name: "Trust and connect" }).click({ timeout: 20_000 });
  await sshConnected(page);
  await focusTerminal(page);
  const screen = () => screenText(page);

  // The Browse frame on the namespace's kernel HTTP server.
  await openTab(page, "Browse");
  await page
    .getByRole("textbox", { name: "Web address inside the tunnel" })
    .fill(`http://${SERVER}:8080/`);
  await page.getByRole("button", { name: "Go" }).click();
  const handle = await page.getByTestId("browse-frame").elementHandle();
  await expect
    .poll(async () => (await handle?.contentFrame())?.url() ?? "", { timeout: 20_000 })
    .toContain(".wiregate.localhost:");
  const frame = (await handle!.contentFrame()) as Frame;

  /** Keystrokes in the page: keydown (capture) to the echo's mutation of the terminal's rows. */
  const pageEcho = async (): Promise<number[]> => {
    await page.getByRole("tab", { name: "SSH", exact: true }).click();
    await focusTerminal(page);
    await run(page, "clear");
    await expect.poll(screen).toMatch(/\$ *$/m);
    await page.evaluate(() => {
      const rows = document.querySelector(".ssh-panels .xterm-rows")!;
      const probe = { down: [] as number[], shown: [] as number[], arrived: [] as number[] };
      // The echo's bytes reaching the page (before xterm draws them on its next frame).
      const screenElement = document.querySelector(".ssh-panels [data-testid=ssh-terminal]")!;
      new MutationObserver(() => {
        if (probe.arrived.length < probe.down.length) probe.arrived.push(performance.now());
      }).observe(screenElement, { attributes: true, attributeFilter: ["data-received"] });
      (window as unknown as { echoProbe: typeof probe }).echoProbe = probe;
      const count = () => (rows.textContent?.match(/x/g) ?? []).length;
      let seen = count();
      document.addEventListener("keydown", () => probe.down.push(performance.now()), true);
      new MutationObserver(() => {
        const now = count();
        if (now > seen) probe.shown.push(performance.now());
        seen = now;
      }).observe(rows, { subtree: true, childList: true, characterData: true });
    });
    for (let i = 0; i < KEYS; i++) {
      await page.keyboard.press("x");
      await page.waitForFunction(
        (n) => (window as unknown as { echoProbe: { shown: number[] } }).echoProbe.shown.length > n,
        i,
      );
    }
    const probe = await page.evaluate(() => {
      const p = (
        window as unknown as { echoProbe: { down: number[]; shown: number[]; arrived: number[] } }
      ).echoProbe;
      return { down: p.down, shown: p.shown, arrived: p.arrived };
    });
    results.pageArrived.push(...probe.arrived.slice(0, KEYS).map((t, i) => t - probe.down[i]!));
    await page.keyboard.press("Control+U");
    return probe.shown.slice(0, KEYS).map((t, i) => t - probe.down[i]!);
  };

  const directEcho = async (): Promise<number[]> => {
    const out = await runCommand(
      "python3",
      ["-c", DIRECT, key, `${sshd.user}@${peer.underlayAddress}`, String(KEYS)],
      { timeoutMs: 120_000 },
    );
    const result = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as {
      ms: number[];
      remoteEcho: boolean;
    };
    // Measured against the server's echo, not the local pseudo-terminal's.
    expect(result.remoteEcho).toBe(true);
    return result.ms;
  };

  /** `cat` of a 10 MB text file through the terminal: Enter to the marker after it. */
  const catThroughTerminal = async (): Promise<number> => {
    await page.getByRole("tab", { name: "SSH", exact: true }).click();
    await focusTerminal(page);
    await run(page, "head -c 7500000 /dev/zero | base64 > ~/bulk.txt; clear");
    await expect.poll(screen).toMatch(/^\S+@\S+:~\$ *$/m);
    const started = performance.now();
    await run(page, "cat ~/bulk.txt; echo END-$((40+2))");
    await expect.poll(screen, { timeout: 300_000, interval: 20 }).toMatch(/^END-42$/m);
    const seconds = (performance.now() - started) / 1000;
    return readFileSync(join(sshd.home, "bulk.txt")).length / seconds;
  };

  /** The same number of bytes through Browse from the kernel HTTP server. */
  const browseDownload = async (): Promise<number> => {
    await openTab(page, "Browse");
    const seconds = await frame.evaluate(async (n) => {
      const started = performance.now();
      const body = await (await fetch(`/bytes/${n}`)).arrayBuffer();
      if (body.byteLength !== n) throw new Error(`got ${body.byteLength} of ${n} bytes`);
      return (performance.now() - started) / 1000;
    }, BULK);
    return BULK / seconds;
  };

  const results = {
    badge,
    pageEcho: [] as number[],
    pageArrived: [] as number[],
    directEcho: [] as number[],
    cat: [] as number[],
    browse: [] as number[],
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first.
    const pairs: [() => Promise<unknown>, () => Promise<unknown>][] = [
      [
        async () => results.pageEcho.push(...(await pageEcho())),
        async () => results.directEcho.push(...(await directEcho())),
      ],
      [
        async () => results.cat.push(await catThroughTerminal()),
        async () => results.browse.push(await browseDownload()),
      ],
    ];
    for (const [a, b] of pairs) {
      if (round % 2 === 0) {
        await a();
        await b();
      } else {
        await b();
        await a();
      }
    }
  }
  const page50 = summary(results.pageEcho);
  const direct50 = summary(results.directEcho);
  const mb = (bps: number[]) => bps.reduce((a, b) => a + b, 0) / bps.length / 1e6;
  const lines = [
    `SSH bench (${badge}; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`,
    `keystroke echo, page through the tunnel: p50 ${page50.p50.toFixed(1)} ms, p95 ${page50.p95.toFixed(1)} ms (${page50.n} keys)`,
    `  of which the echo's bytes reached the page after p50 ${summary(results.pageArrived).p50.toFixed(1)} ms, p95 ${summary(results.pageArrived).p95.toFixed(1)} ms (the rest: xterm draws on the next frame)`,
    `keystroke echo, OpenSSH client direct:   p50 ${direct50.p50.toFixed(1)} ms, p95 ${direct50.p95.toFixed(1)} ms (${direct50.n} keys)`,
    `  ratio page / direct: p50 ${(page50.p50 / direct50.p50).toFixed(1)}×, p95 ${(page50.p95 / direct50.p95).toFixed(1)}×`,
    `bulk: cat through the terminal ${mb(results.cat).toFixed(2)} MB/s, Browse download ${mb(results.browse).toFixed(2)} MB/s (${(mb(results.cat) / mb(results.browse)).toFixed(2)}×), per round: ${results.cat.map((v) => (v / 1e6).toFixed(2)).join(", ")} vs ${results.browse.map((v) => (v / 1e6).toFixed(2)).join(", ")}`,
  ];
  console.log(lines.join("\n"));
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, "ssh-bench.json"),
    JSON.stringify({ ...results, page: page50, direct: direct50 }, null, 2),
  );
  expect(results.pageEcho.length).toBe(KEYS * ROUNDS);
});
