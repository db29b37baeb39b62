/** Tests with real processes: the built CLI, and clients that vanish or flood. */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RelayConnection } from "@wiregate/relay-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RelayAddress } from "../src/relay.js";
import {
  connect,
  type Echo,
  metricsText,
  sample,
  seqOf,
  startEcho,
  type TestTransport,
  TOKEN,
  TRANSPORTS,
  transportMessage,
  waitFor,
} from "./helpers.js";
import { lineMatching, lines, root } from "./relay-process.js";

const fixture = join(root, "test/fixtures/client.mjs");
const children: ChildProcess[] = [];

let echo: Echo;
let relayProcess: ChildProcess;
let relayLines: AsyncIterator<string>;
let address: RelayAddress;
let hashHex: string;
let listening: {
  transports: RelayAddress["transports"];
  http3: string;
  url: string;
  ops: string;
  certificateSha256: string;
};

beforeAll(async () => {
  echo = await startEcho();
  const certDir = mkdtempSync(join(tmpdir(), "wiregate-relay-cli-"));
  relayProcess = spawn(
    process.execPath,
    [
      join(root, "dist/cli.js"),
      "--port=0",
      "--ops-port=0",
      `--cert-dir=${certDir}`,
      `--upstream=echo=127.0.0.1:${echo.port}`,
      "--rate=200",
      "--queue=16",
    ],
    { env: { ...process.env, WIREGATE_RELAY_TOKENS: TOKEN }, stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(relayProcess);
  relayLines = lines(relayProcess);
  listening = JSON.parse(await lineMatching(relayLines, (l) => l.includes('"relay listening"')));
  hashHex = listening.certificateSha256;
  address = {
    host: "127.0.0.1",
    port: Number(new URL(listening.url).port),
    url: listening.url,
    certificateSha256: Uint8Array.from(Buffer.from(hashHex, "hex")),
    opsPort: Number(new URL(listening.ops).port),
    transports: listening.transports,
  };
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await echo.close();
});

async function spawnClient(
  mode: "idle" | "flood",
  rate: number,
  transport: TestTransport,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [fixture, address.url, hashHex, TOKEN, "echo", mode, String(rate), transport],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(child);
  await lineMatching(lines(child), (l) => l.includes('"welcome"'));
  return child;
}

const sessionsGauge = async (transport: TestTransport) =>
  sample(await metricsText(address), `wiregate_relay_sessions{transport="${transport}"}`);

/** A probe not echoed within this long is counted lost (QUIC datagrams are unreliable). */
const PROBE_LOSS_MS = 1_000;

/**
 * Median round trip of `count` probes sent one at a time. Over HTTP/3 a probe's datagram may be
 * lost (the flood shares the relay's UDP socket and QUIC queues with it): it is counted and left
 * out of the median instead of stalling the test.
 */
async function medianRoundTrip(
  conn: RelayConnection,
  count: number,
  base: number,
): Promise<{ median: number; lost: number }> {
  const iterator = conn.datagrams[Symbol.asyncIterator]();
  let pending = iterator.next();
  const times: number[] = [];
  let lost = 0;
  for (let i = 0; i < count; i++) {
    const seq = base + i;
    const start = performance.now();
    conn.send(transportMessage(seq));
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), start + PROBE_LOSS_MS - performance.now());
      });
      const next = await Promise.race([pending, timeout]);
      clearTimeout(timer);
      if (next === undefined) {
        lost++;
        break;
      }
      pending = iterator.next();
      if (next.done) throw new Error("session ended");
      if (seqOf(next.value) === seq) {
        times.push(performance.now() - start);
        break;
      }
    }
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, lost };
}

describe("relay process", () => {
  it("prints its configuration help", () => {
    const help = execFileSync(process.execPath, [join(root, "dist/cli.js"), "--help"]).toString();
    for (const flag of [
      "--token",
      "--upstream",
      "--rate",
      "--capture",
      "--static",
      "WIREGATE_RELAY_PORT",
    ]) {
      expect(help).toContain(flag);
    }
  });

  it("says at start which transports it serves", () => {
    expect(listening.transports).toEqual(["http2", "http3"]);
    expect(listening.http3).toBe("on");
  });

  it("gives the HTTP/3 UDP socket 4 MiB buffers (as far as the kernel allows)", () => {
    // `ss` shows the kernel's view: twice the granted size, which net.core.rmem_max caps.
    const shown = execFileSync("ss", ["-uamnH", `sport = :${address.port}`]).toString();
    const rb = Number(/rb(\d+)/.exec(shown)?.[1]);
    const tb = Number(/tb(\d+)/.exec(shown)?.[1]);
    const cap = (file: string) => Number(readFileSync(`/proc/sys/net/core/${file}`, "utf8"));
    expect(rb).toBe(2 * Math.min(4 * 1024 * 1024, cap("rmem_max")));
    expect(tb).toBe(2 * Math.min(4 * 1024 * 1024, cap("wmem_max")));
  });

  // Over HTTP/2 the kernel closes the TCP connection. A vanished QUIC client says nothing: its
  // session ends on QUIC's idle timeout or the relay's idle sweep (both transports: relay.test.ts).
  it("frees a session whose client vanished (http2)", async () => {
    const client = await spawnClient("idle", 0, "http2");
    await waitFor(async () => (await sessionsGauge("http2")) === 1);
    client.kill("SIGKILL");
    await waitFor(async () => (await sessionsGauge("http2")) === 0, 10_000);
    const health = await (await fetch(`http://127.0.0.1:${address.opsPort}/healthz`)).json();
    expect(health).toMatchObject({ status: "ok", sessions: 0 });
  });

  // On both transports; over HTTP/3 the flood shares the relay's one UDP socket and QUIC stack with
  // the probe, whose datagrams may be lost: those are counted, not waited for.
  it.each(TRANSPORTS)(
    "throttles a flooding session while another keeps its latency (%s)",
    async (transport) => {
      const conn = await connect(address, { transport });
      await medianRoundTrip(conn, 50, 0); // warm up
      const idle = await medianRoundTrip(conn, 200, 1000);
      const echoedBefore = echo.received;
      const dropsBefore = sample(
        await metricsText(address),
        'wiregate_relay_drops_total{direction="to_upstream",reason="queue-full"}',
      );
      const flooder = await spawnClient("flood", 4000, transport);
      await new Promise((r) => setTimeout(r, 300));
      const floodStart = echo.received;
      const started = performance.now();
      const loaded = await medianRoundTrip(conn, 200, 5000);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - started))));
      const elapsed = (performance.now() - started) / 1000;
      const forwarded = echo.received - floodStart - 200;
      flooder.kill("SIGKILL");
      const drops =
        sample(
          await metricsText(address),
          'wiregate_relay_drops_total{direction="to_upstream",reason="queue-full"}',
        ) - dropsBefore;
      // The flooder offers ~4000/s; the relay lets through its 200/s (plus a burst of 20).
      expect(forwarded / elapsed).toBeLessThan(200 * 1.3 + 20 / elapsed);
      expect(drops).toBeGreaterThan(1000);
      expect(echo.received).toBeGreaterThan(echoedBefore);
      expect(loaded.median).toBeLessThan(2 * idle.median + 0.1);
      // Most probes came back: the flood did not crowd the other session out.
      expect(loaded.lost).toBeLessThan(20);
      conn.close();
    },
  );

  it("drains and exits 0 on SIGTERM with live sessions on both transports", async () => {
    const conns = await Promise.all(TRANSPORTS.map((transport) => connect(address, { transport })));
    expect(conns.map((c) => c.welcome.transport)).toEqual([...TRANSPORTS]);
    const exited = new Promise<number | null>((resolve) =>
      relayProcess.once("exit", (code) => resolve(code)),
    );
    relayProcess.kill("SIGTERM");
    for (const conn of conns) expect((await conn.closed).error?.code).toBe("shutdown");
    expect(await exited).toBe(0);
  });
});
