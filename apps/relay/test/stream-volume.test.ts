/**
 * Volume on the session's reliable streams, in both directions, over every transport the relay
 * serves: 16 MiB on the control stream and on the message stream. Over HTTP/2 the client → relay
 * direction used to stop after 16,384 bytes: the library's server started its session receive
 * window at its limit (15 MiB) while its SETTINGS told the client 16 KiB, so it never sent the
 * WT_MAX_DATA the client waited for (patches/, docs/relay.md "HTTP/2 flow control").
 * 16 MiB is past the library's largest stream and session windows (6 and 15 MiB), so windows are
 * renewed many times on the way.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quicheLoaded } from "@fails-components/webtransport";
import {
  type ControlFrame,
  connectRelay,
  encodeFrame,
  FRAME_HEADER_SIZE,
  FrameReader,
  MAX_FRAME_SIZE,
  PROTOCOL_VERSION,
  type WebTransportLike,
} from "@wiregate/relay-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay, RelayAddress } from "../src/relay.js";
import {
  type Echo,
  seqOf,
  startEcho,
  startRelay,
  TOKEN,
  transportMessage,
  waitFor,
} from "./helpers.js";
import { devCertFile, TRANSPORTS, transportDialer } from "./websocket-client.js";

const VOLUME = 16 * 1024 * 1024;

const certDir = mkdtempSync(join(tmpdir(), "wiregate-volume-"));
let echo: Echo;
let relay: Relay;
let address: RelayAddress;
/** The constructor and options that open a session over a transport. */
let dial: Awaited<ReturnType<typeof transportDialer>>;

beforeAll(async () => {
  echo = await startEcho();
  ({ relay, address } = await startRelay(echo.port, {
    certDir,
    // The volume, not the rate, is under test: the buckets must not drop any of it.
    limits: { datagramsPerSecond: 1_000_000, bytesPerSecond: 1024 * 1024 * 1024 },
  }));
  dial = await transportDialer(devCertFile(certDir));
  await quicheLoaded;
});

afterAll(async () => {
  await relay?.stop(0);
  await echo?.close();
});

/** Progress of one session's transfer: what waits for a condition is woken on each event. */
class Progress {
  readonly #waiters = new Set<() => void>();
  #ended = false;

  /** Something arrived: wake the waiters. */
  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** The session ended: every waiter still waiting fails. */
  end(): void {
    this.#ended = true;
    this.notify();
  }

  /** Resolves once `done()` holds; rejects if the session ends before. */
  until(done: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (done()) resolve();
        else if (this.#ended) reject(new Error("the session ended"));
        else return;
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}

describe.each(TRANSPORTS)("16 MiB each way over %s", (transport) => {
  it("on the control stream: stats requests and their answers", async () => {
    const { Ctor, transportOptions } = dial(transport);
    const wt: WebTransportLike = new Ctor(address.url, {
      ...transportOptions,
      serverCertificateHashes: [{ algorithm: "sha-256", value: address.certificateSha256 }],
    });
    await wt.ready;
    const control = await wt.createBidirectionalStream();
    const writer = control.writable.getWriter();
    const reader = control.readable.getReader();
    const frames = new FrameReader();
    const received: ControlFrame[] = [];
    const progress = new Progress();
    let receivedBytes = 0;
    const ended = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || !value) return;
        receivedBytes += value.length;
        for (const result of frames.push(value)) {
          if (!result.ok) throw new Error(`bad frame from the relay: ${result.detail}`);
          received.push(result.frame);
        }
        progress.notify();
      }
    })().finally(() => progress.end());

    await writer.write(
      encodeFrame({ type: "hello", version: PROTOCOL_VERSION, token: TOKEN, upstream: "echo" }),
    );
    await progress.until(() => received.length >= 1);
    expect(received[0]?.type).toBe("welcome");

    // One answer's size; requests are padded to it (extra fields are ignored), so both
    // directions carry about as much.
    await writer.write(encodeFrame({ type: "stats-request" }));
    await progress.until(() => received.length >= 2);
    const answerSize = receivedBytes - encodeFrame(received[0]!).length;
    const padding = "x".repeat(
      Math.max(0, answerSize - encodeFrame({ type: "stats-request", pad: "" } as never).length),
    );
    const request = encodeFrame({ type: "stats-request", pad: padding } as never);

    // Requests go 32 to a write, with at most 512 unanswered.
    const BATCH = 32;
    const batch = new Uint8Array(request.length * BATCH);
    for (let i = 0; i < BATCH; i++) batch.set(request, i * request.length);
    let sentBytes = 0;
    let requested = 1;
    while (sentBytes < VOLUME || receivedBytes < VOLUME) {
      await writer.write(batch);
      sentBytes += batch.length;
      requested += BATCH;
      await progress.until(() => requested - (received.length - 1) <= 512 - BATCH);
    }
    await progress.until(() => received.length - 1 === requested);

    expect(sentBytes).toBeGreaterThanOrEqual(VOLUME);
    expect(receivedBytes).toBeGreaterThanOrEqual(VOLUME);
    expect(received.slice(1).every((frame) => frame.type === "stats")).toBe(true);
    wt.close();
    await Promise.allSettled([wt.closed, ended, writer.closed]);
  }, 120_000);
});

/**
 * The message stream with the stream carriage: every WireGuard message of the session on it, both
 * ways, on every transport.
 */
describe.each(TRANSPORTS)("the message stream over %s", (transport) => {
  it("carries 16 MiB of WireGuard messages to the upstream and back", async () => {
    const { Ctor, transportOptions } = dial(transport);
    const arrived: number[] = [];
    const progress = new Progress();
    const conn = await connectRelay({
      WebTransport: Ctor,
      url: address.url,
      token: TOKEN,
      upstream: "echo",
      carriage: "stream",
      serverCertificateHashes: [{ algorithm: "sha-256", value: address.certificateSha256 }],
      transportOptions,
      onDatagram: (message) => {
        arrived.push(seqOf(message));
        progress.notify();
      },
    });
    void conn.closed.then(() => progress.end());
    expect(conn.carriage).toBe("stream");
    const size = conn.welcome.messageSize ?? conn.welcome.datagramSize;

    // At most 32 messages on their way: within the 64 KiB either end queues on the stream.
    const count = Math.ceil(VOLUME / size);
    for (let seq = 0; seq < count; seq++) {
      await progress.until(() => seq - arrived.length < 32);
      conn.send(transportMessage(seq, size));
    }
    await progress.until(() => arrived.length === count);

    expect(arrived).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(conn.streamed).toMatchObject({ sent: count, received: count, dropped: 0 });
    const stats = await conn.stats();
    expect(stats.drops).toEqual({});
    expect(stats.toUpstream.bytes).toBeGreaterThanOrEqual(VOLUME);
    expect(stats.toClient.bytes).toBeGreaterThanOrEqual(VOLUME);
    conn.close();
  }, 120_000);
});

/**
 * The other side of volume: a client that keeps asking for stats and does not read the answers.
 * The relay reads its next request only once the transport took the last answer, so what waits
 * for that client in the relay is one answer, not one per request; the requests wait in the
 * client's own flow-control window, and every one is answered once it reads again.
 */
describe.each(TRANSPORTS)("a client asking without reading over %s", (transport) => {
  it("has at most one answer waiting in the relay, and gets every answer once it reads", async () => {
    const { Ctor, transportOptions } = dial(transport);
    const wt: WebTransportLike = new Ctor(address.url, {
      ...transportOptions,
      serverCertificateHashes: [{ algorithm: "sha-256", value: address.certificateSha256 }],
    });
    await wt.ready;
    const control = await wt.createBidirectionalStream();
    const writer = control.writable.getWriter();
    const reader = control.readable.getReader();
    const frames = new FrameReader();
    const received: ControlFrame[] = [];
    const readSome = async () => {
      const { value, done } = await reader.read();
      if (done || !value) throw new Error("the control stream ended");
      for (const result of frames.push(value)) {
        if (!result.ok) throw new Error(`bad frame from the relay: ${result.detail}`);
        received.push(result.frame);
      }
    };
    void writer.write(
      encodeFrame({ type: "hello", version: PROTOCOL_VERSION, token: TOKEN, upstream: "echo" }),
    );
    while (received.length === 0) await readSome();
    const welcome = received[0]!;
    if (welcome.type !== "welcome") throw new Error(`no welcome: ${JSON.stringify(welcome)}`);
    const session = [...relay.sessions].find((s) => s.ctx.id === welcome.sessionId)!;

    // 20,000 requests (560 KB) in one write, answers (about 4 MB) left unread.
    const REQUESTS = 20_000;
    const request = encodeFrame({ type: "stats-request" });
    const batch = new Uint8Array(request.length * REQUESTS);
    for (let i = 0; i < REQUESTS; i++) batch.set(request, i * request.length);
    void writer.write(batch).catch(() => {});
    await waitFor(() => session.controlWaiting && session.controlBacklog > 0, 20_000);
    expect(session.controlBacklog).toBeLessThanOrEqual(FRAME_HEADER_SIZE + MAX_FRAME_SIZE);

    while (received.length < 1 + REQUESTS) await readSome();
    expect(received.slice(1).every((frame) => frame.type === "stats")).toBe(true);
    expect(received).toHaveLength(1 + REQUESTS);
    wt.close();
    await Promise.allSettled([wt.closed, writer.closed]);
  }, 120_000);
});
