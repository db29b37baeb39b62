/**
 * Datagrams the relay's own QUIC stack loses toward a client: an upstream answers one message with
 * a burst far above QUIC's congestion window, and every message of it either reaches the client or
 * is counted (expired in the relay's QUIC send queue, or declared lost) in the metrics and in the
 * session's stats frame, also once the session is closed. Over HTTP/2 (reliable) every one arrives.
 */

import { createSocket, type Socket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
/** Messages the upstream sends per event-loop turn: well inside the relay socket's receive buffer. */
const CHUNK = 64;

const EXPIRED = "wiregate_relay_datagrams_expired_toward_client_total";
const LOST = "wiregate_relay_datagrams_lost_toward_client_total";
const DROPPED_INCOMING = "wiregate_relay_datagrams_dropped_incoming_total";

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * An upstream that answers the first message from the relay with `BURST` transport messages of
 * the size that message asks for, `CHUNK` per event-loop turn, each chunk once the relay took the
 * previous one (`taken`): so the relay's own UDP socket never overflows, and the burst meets the
 * relay's QUIC send queue as fast as the relay can take it.
 */
async function startBurstUpstream(taken: () => number) {
  const socket: Socket = createSocket("udp4");
  socket.on("message", async (trigger, from) => {
    const size = new DataView(trigger.buffer, trigger.byteOffset).getUint32(12, true);
    const start = taken();
    for (let sent = 0; sent < BURST; ) {
      for (const end = Math.min(BURST, sent + CHUNK); sent < end; sent++)
        socket.send(transportMessage(sent, size), from.port, from.address);
      while (taken() - start < sent) await nextTurn();
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A trigger message asking for a burst of `size`-byte messages. */
function trigger(size: number): Uint8Array {
  const message = transportMessage(0, 64);
  new DataView(message.buffer).setUint32(12, size, true);
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

/** The relay's transport loss counters, and its own drops toward clients (all reasons). */
async function relayCounts() {
  const text = await metricsText(address);
  return {
    expired: sample(text, EXPIRED),
    lost: sample(text, LOST),
    droppedIncoming: sample(text, DROPPED_INCOMING),
    drops: text
      .split("\n")
      .filter((l) => l.startsWith('wiregate_relay_drops_total{direction="to_client"'))
      .reduce((n, l) => n + Number(l.split(" ")[1]), 0),
  };
}

type Counts = Awaited<ReturnType<typeof relayCounts>>;
const since = (after: Counts, before: Counts) => ({
  expired: after.expired - before.expired,
  lost: after.lost - before.lost,
  droppedIncoming: after.droppedIncoming - before.droppedIncoming,
  drops: after.drops - before.drops,
});

/**
 * Every message of a burst arrived or was counted. QUIC declares a datagram lost when a later
 * packet was acknowledged and its own was not: on loopback (no reordering) one the client never
 * got, but a spurious loss would count one that did arrive, so `lost` is an upper bound.
 */
function expectAccounted(received: number, counted: { expired: number; lost: number }): void {
  expect(received + counted.expired).toBeLessThanOrEqual(BURST);
  expect(received + counted.expired + counted.lost).toBeGreaterThanOrEqual(BURST);
}

async function burstSession(transport: (typeof TRANSPORTS)[number]) {
  const counter = { received: 0 };
  const conn = await connect(address, { transport, onDatagram: () => counter.received++ });
  const session = [...relay.sessions].find((s) => s.ctx.id === conn.welcome.sessionId)!;
  conn.send(trigger(conn.welcome.datagramSize));
  return { conn, session, counter };
}

describe.each(TRANSPORTS)("a burst toward the client over %s", (transport) => {
  it("arrives, or is counted in the metrics and in the session's stats frame", async () => {
    const before = await relayCounts();
    const { conn, counter } = await burstSession(transport);
    let counted = since(before, before);
    // Each scrape reads the open sessions' counters; they settle once the burst left QUIC's queue.
    await waitFor(async () => {
      counted = since(await relayCounts(), before);
      return counter.received + counted.expired + counted.lost >= BURST;
    }, 20_000);
    expect(counted.drops).toBe(0);
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
    conn.close();
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
