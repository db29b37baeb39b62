/**
 * The receive buffer of each session's upstream UDP socket (upstream-buffer.ts): sized by the relay,
 * said in the start line, and a bound on what an upstream's burst can make the kernel hold for one
 * session, whatever it sends while the relay's event loop does not read (here: the relay process
 * stopped with SIGSTOP).
 */

import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ReceiveBufferProbe } from "../src/upstream-buffer.js";
import { connect, metricsText, sample, transportMessage, waitFor } from "./helpers.js";
import { MiB, relayProcesses } from "./relay-process.js";

const { relayWith, running } = relayProcesses();

/** Sessions in the attack, and datagrams their upstream sends each while the relay is stopped. */
const SESSIONS = 32;
const BURST = 2_000;
const SIZE = 1_452;
/** The kernel may charge one datagram past the buffer before it drops (its true size, < 4 KiB). */
const ONE_DATAGRAM = 4 * 1024;
const SOCKET_OVERFLOW =
  'wiregate_relay_drops_total{direction="to_client",reason="socket-overflow"}';

/** Bytes queued (`rx_queue`) and drops of each local IPv4 UDP port, from /proc/net/udp. */
function udpSockets(): Map<number, { queued: number; drops: number }> {
  const sockets = new Map<number, { queued: number; drops: number }>();
  for (const line of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13) continue;
    const port = Number.parseInt(fields[1]!.split(":")[1]!, 16);
    const queued = Number.parseInt(fields[4]!.split(":")[1]!, 16);
    sockets.set(port, { queued, drops: Number(fields[fields.length - 1]) });
  }
  return sockets;
}

describe("the relay's upstream sockets", () => {
  it("hold at most their receive buffer each while the relay does not read: 32 sessions bursting", async () => {
    // The upstream: learns each session's socket from one message, then bursts at it on demand.
    const upstream = createSocket("udp4");
    const sessionPorts = new Set<number>();
    upstream.on("message", (_, from) => sessionPorts.add(from.port));
    await new Promise<void>((resolve) => upstream.bind(0, "127.0.0.1", () => resolve()));
    running.push({ stop: () => upstream.close() });
    const relay = await relayWith([
      `--upstream=flood=127.0.0.1:${upstream.address().port}`,
      `--max-sessions-per-address=${SESSIONS}`,
    ]);
    const buffer = relay.listening.upstreamReceiveBuffer as ReceiveBufferProbe;
    // Asked 1 MiB; the kernel doubles it, unless net.core.rmem_max cuts it (then the log warns).
    expect(buffer).toMatchObject({ asked: MiB, capped: buffer.got < 2 * MiB });
    expect(buffer.got).toBeGreaterThan(212_992);

    const received = { count: 0 };
    const conns = [];
    for (let i = 0; i < SESSIONS; i++) {
      const conn = await connect(relay.address, {
        transport: "http2",
        upstream: "flood",
        onDatagram: () => received.count++,
      });
      running.push({ stop: () => conn.close() });
      conns.push(conn);
      conn.send(transportMessage(i));
    }
    await waitFor(() => sessionPorts.size === SESSIONS);

    relay.child.kill("SIGSTOP");
    running.push({ stop: () => relay.child.kill("SIGCONT") });
    const rssStopped = relay.rss();
    const before = udpSockets();
    // Every datagram is either queued on its socket or dropped by the kernel once sent.
    const sent = BURST * SESSIONS;
    let done = 0;
    for (const port of sessionPorts)
      for (let seq = 0; seq < BURST; seq++)
        upstream.send(transportMessage(seq, SIZE), port, "127.0.0.1", () => done++);
    await waitFor(() => done === sent, 30_000);
    const after = udpSockets();
    const dropped = (port: number) => after.get(port)!.drops - before.get(port)!.drops;
    let held = 0;
    for (const port of sessionPorts) {
      const { queued } = after.get(port)!;
      expect(queued).toBeLessThanOrEqual(buffer.got + ONE_DATAGRAM);
      held += queued;
    }
    expect(held).toBeLessThanOrEqual(SESSIONS * (buffer.got + ONE_DATAGRAM));
    const kernelDrops = [...sessionPorts].reduce((sum, port) => sum + dropped(port), 0);
    expect(kernelDrops).toBeGreaterThan(0);
    expect(kernelDrops).toBeLessThan(sent);

    // Going on, the relay reads what waited, forwards it, and counts the kernel's drops.
    relay.child.kill("SIGCONT");
    await waitFor(
      async () => sample(await metricsText(relay.address), SOCKET_OVERFLOW) >= kernelDrops,
      30_000,
    );
    expect(sample(await metricsText(relay.address), SOCKET_OVERFLOW)).toBe(kernelDrops);
    // Its memory took the queued bytes in and let them go: a bounded step, not the burst's size.
    expect(relay.rss() - rssStopped).toBeLessThan(48 * MiB + held);
    for (const conn of conns) conn.close();
  }, 120_000);
});
