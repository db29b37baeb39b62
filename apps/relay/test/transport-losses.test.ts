/**
 * Datagrams the relay's own QUIC stack loses toward a client: an upstream answers one message with
 * a burst far above QUIC's congestion window, and every message of it either reaches the client or
 * is counted (expired in the relay's QUIC send queue, or declared lost) in the metrics and in the
 * session's stats frame, also once the session is closed. Over HTTP/2 (reliable) every one arrives.
 * A burst in one event-loop turn larger than the relay's upstream socket holds overflows it first:
 * the kernel's drops are counted as well. One the kernel's default buffer overflowed arrives.
 */

import { createSocket, type Socket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { Relay, RelayAddress } from "../src/relay.js";
import {
  connect,
  metricsText,
  sample,
  startRelay,
  TRANSPORTS,
  transportMessage,
  waitFor,
} from "./helpers.js";

/** Messages per burst: thousands of datagrams against an initial congestion window of tens. */
const BURST = 2_000;
/**
 * Messages the upstream sends per event-loop turn when paced: well inside the relay socket's
 * receive buffer. Unpaced, the whole burst goes in one turn.
 */
const PACED = 64;

const EXPIRED = "wiregate_relay_datagrams_expired_toward_client_total";
const LOST = "wiregate_relay_datagrams_lost_toward_client_total";
const DROPPED_INCOMING = "wiregate_relay_datagrams_dropped_incoming_total";
const TAKEN = 'wiregate_relay_wireguard_messages_total{direction="to_client",type="transport"}';
const SOCKET_OVERFLOW =
  'wiregate_relay_drops_total{direction="to_client",reason="socket-overflow"}';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * An upstream that answers a message from the relay with as many transport messages (`BURST`
 * unless it says) of the size that message asks for, in chunks of the size it asks for, each chunk
 * once the relay took the previous one (`taken`). Paced, the relay's own UDP socket never overflows and the burst meets the
 * relay's QUIC send queue as fast as the relay can take it; in one chunk, it overflows the socket.
 */
async function startBurstUpstream(taken: () => number) {
  const socket: Socket = createSocket("udp4");
  socket.on("message", async (trigger, from) => {
    const view = new DataView(trigger.buffer, trigger.byteOffset);
    const size = view.getUint32(12, true);
    const chunk = view.getUint32(16, true);
    const count = view.getUint32(20, true) || BURST;
    const start = taken();
    for (let sent = 0; sent < count; ) {
      for (const end = Math.min(count, sent + chunk); sent < end; sent++)
        socket.send(transportMessage(sent, size), from.port, from.address);
      while (sent < count && taken() - start < sent) await nextTurn();
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A trigger asking for `count` messages of `size` bytes, `chunk` per event-loop turn. */
function trigger(size: number, chunk: number, count = BURST): Uint8Array {
  const message = transportMessage(0, 64);
  new DataView(message.buffer).setUint32(12, size, true);
  new DataView(message.buffer).setUint32(16, chunk, true);
  new DataView(message.buffer).setUint32(20, count, true);
  return message;
}

let relay: Relay;
let address: RelayAddress;
let upstream: Awaited<ReturnType<typeof startBurstUpstream>>;
/** The relay's clock for idleness: moved by hand to close a session as idle. */
let clock = 0;

beforeAll(async () => {
  // Transport messages the relay took from its upstreams (type 4).
  upstream = await startBurstUpstream(() => relay.counters.messages.to_client[3] ?? 0);
  ({ relay, address } = await startRelay(
    upstream.port,
    {
      // Nothing of the relay's own limits may drop a message of the burst.
      limits: {
        datagramsPerSecond: 1_000_000,
        bytesPerSecond: 1_000_000_000,
        queueLength: BURST,
        clientBufferBytes: 64 * 1024 * 1024,
      },
    },
    { clock: () => clock },
  ));
});
afterAll(async () => {
  await relay.stop(100);
  await upstream.close();
});

/** The relay's transport loss counters, what it took from upstreams, and its drops toward clients. */
async function relayCounts() {
  const text = await metricsText(address);
  const toClientDrops = text
    .split("\n")
    .filter((l) => l.startsWith('wiregate_relay_drops_total{direction="to_client"'))
    .reduce((n, l) => n + Number(l.split(" ")[1]), 0);
  return {
    expired: sample(text, EXPIRED),
    lost: sample(text, LOST),
    droppedIncoming: sample(text, DROPPED_INCOMING),
    taken: sample(text, TAKEN),
    socketOverflow: sample(text, SOCKET_OVERFLOW),
    otherDrops: toClientDrops - sample(text, SOCKET_OVERFLOW),
  };
}

type Counts = Awaited<ReturnType<typeof relayCounts>>;
const since = (after: Counts, before: Counts) =>
  Object.fromEntries(
    Object.entries(after).map(([key, value]) => [key, value - before[key as keyof Counts]]),
  ) as Counts;

/**
 * Every message the relay took arrived or was counted. QUIC declares a datagram lost when a later
 * packet was acknowledged and its own was not: on loopback (no reordering) one the client never
 * got, but a spurious loss would count one that did arrive, so `lost` is an upper bound.
 */
function expectAccounted(
  received: number,
  counted: { expired: number; lost: number },
  taken = BURST,
) {
  expect(received + counted.expired).toBeLessThanOrEqual(taken);
  expect(received + counted.expired + counted.lost).toBeGreaterThanOrEqual(taken);
}

async function burstSession(transport: (typeof TRANSPORTS)[number], chunk = PACED, count = BURST) {
  const counter = { received: 0 };
  const conn = await connect(address, { transport, onDatagram: () => counter.received++ });
  // Also when the test fails: an open session would count as idle in the last test.
  onTestFinished(() => conn.close());
  const session = [...relay.sessions].find((s) => s.ctx.id === conn.welcome.sessionId)!;
  conn.send(trigger(conn.welcome.datagramSize, chunk, count));
  return { conn, session, counter };
}

describe.each(TRANSPORTS)("a burst toward the client over %s", (transport) => {
  it("arrives, or is counted in the metrics and in the session's stats frame", async () => {
    const before = await relayCounts();
    const { conn, counter } = await burstSession(transport);
    let counted = since(before, before);
    // Each scrape reads the open sessions' counters; they settle once the relay took the whole
    // burst and it left QUIC's queue.
    await waitFor(async () => {
      counted = since(await relayCounts(), before);
      return counted.taken >= BURST && counter.received + counted.expired + counted.lost >= BURST;
    }, 20_000);
    expect(counted).toMatchObject({ taken: BURST, socketOverflow: 0, otherDrops: 0 });
    const stats = await conn.stats();
    expect(stats.toClient.datagrams).toBe(BURST);
    if (transport === "http3") {
      expectAccounted(counter.received, counted);
      expect(counted.expired + counted.lost).toBeGreaterThan(0);
    } else {
      // The library's HTTP/2 and WebSocket sessions are reliable: nothing expires or is lost.
      expect(counter.received).toBe(BURST);
      expect(counted.expired + counted.lost).toBe(0);
    }
    // The client sees the relay's count of its own session.
    expect(stats.transportLosses).toEqual({
      expiredToClient: counted.expired,
      lostToClient: counted.lost,
      droppedFromClient: counted.droppedIncoming,
    });
  });

  it("in one event-loop turn overflows the relay's upstream socket, and that is counted too", async () => {
    const before = await relayCounts();
    const { conn, counter } = await burstSession(transport, BURST);
    let counted = since(before, before);
    await waitFor(async () => {
      counted = since(await relayCounts(), before);
      return (
        counted.taken + counted.socketOverflow >= BURST &&
        counter.received + counted.expired + counted.lost >= counted.taken
      );
    }, 20_000);
    // The relay's upstream socket holds about 900 of these (2 MiB at the kernel's ~2.3 KB each).
    expect(counted.socketOverflow).toBeGreaterThan(0);
    expect(counted.taken + counted.socketOverflow).toBe(BURST);
    expect(counted.otherDrops).toBe(0);
    if (transport === "http3") expectAccounted(counter.received, counted, counted.taken);
    else expect(counter.received).toBe(counted.taken);
    // The session's stats frame says so as a drop toward the client.
    expect((await conn.stats()).drops["socket-overflow"]).toBe(counted.socketOverflow);
  });

  it("in one event-loop turn arrives whole when it fits the socket's buffer (the default held 92)", async () => {
    // 400 messages: four times what the kernel's default buffer took of a burst (~208 KiB).
    const count = 400;
    const before = await relayCounts();
    const { conn, counter } = await burstSession(transport, count, count);
    let counted = since(before, before);
    await waitFor(async () => {
      counted = since(await relayCounts(), before);
      return (
        counted.taken + counted.socketOverflow >= count &&
        counter.received + counted.expired + counted.lost >= counted.taken
      );
    }, 20_000);
    expect(counted).toMatchObject({ taken: count, socketOverflow: 0, otherDrops: 0 });
    if (transport === "http3") expectAccounted(counter.received, counted, count);
    else expect(counter.received).toBe(count);
    expect((await conn.stats()).drops["socket-overflow"]).toBeUndefined();
  });
});

describe("a session the relay closed", () => {
  it("leaves its last transport losses in the metrics", async () => {
    const before = await relayCounts();
    const { session, counter } = await burstSession("http3");
    // Read the session's QUIC counters directly, past the relay's own reading, until settled.
    let quic = { expired: 0, lost: 0 };
    await waitFor(async () => {
      const d = (await session.wt.getStats?.())?.datagrams ?? {};
      quic = { expired: Number(d.expiredOutgoing), lost: Number(d.lostOutgoing) };
      return counter.received + quic.expired + quic.lost >= BURST;
    }, 20_000);
    expectAccounted(counter.received, quic);
    expect(quic.expired + quic.lost).toBeGreaterThan(0);
    // Idle: the relay closes it, and reads it one last time as it does.
    clock += 10 * 60_000;
    expect(relay.sweepIdle()).toBe(1);
    await waitFor(() => session.isClosed());
    const counted = since(await relayCounts(), before);
    expect({ expired: counted.expired, lost: counted.lost }).toEqual(quic);
  });
});
