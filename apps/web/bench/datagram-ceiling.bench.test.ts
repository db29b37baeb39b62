/**
 * The raw HTTP/3 datagram ceiling from Chromium, without the relay or WireGuard: a page floods
 * 1,168-byte datagrams (the size of a tunnel message that stays a datagram) at a bare echo
 * `Http3Server` in this process, keeping `window` in flight. Each case runs twice, interleaved, and
 * is reported with the browser's own loss counters (`getStats().datagrams`), so what limits the rate
 * shows: datagrams the page never read (incoming queue), datagrams expired in a sender's QUIC queue,
 * or neither (CPU, shown per process). Cases: Chromium's default datagram queues and larger ones,
 * at two window sizes; and the same messages on one bidirectional stream (2-byte length frames, as
 * the stream carriage sends them), one write per message or 32 per write, against the datagram
 * baseline of the same run. One way on one stream: the page uploading (also with small
 * acknowledgements coming back on the stream or as datagrams, as a TCP upload inside the tunnel
 * gets them, and with a 64 KiB window clocked by them), and downloading. Writes
 * test-results/datagram-ceiling.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Http3Server, quicheLoaded } from "@fails-components/webtransport";
import { generateDevCertificate } from "@wiregate/relay";
import { STREAM_QUEUE_BYTES } from "@wiregate/relay-protocol";
import { expect, it } from "vitest";
import { closeAfterAll } from "../../../test/helpers/closers.js";
import { chromiumBrowser, RESULTS } from "../test/stack.js";
import { cpuShares, schedTimes } from "./sched.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** BENCH_ONE_WAY_ONLY=1: only the one-way stream cases (no datagram or echo cases). */
const ONE_WAY_ONLY = process.env.BENCH_ONE_WAY_ONLY === "1";
const BYTES = 1168;
/** Larger queues than Chromium's defaults (1 unread incoming datagram; ~4 ms in the QUIC queue). */
const INCOMING_HIGH_WATER_MARK = 1024;
const OUTGOING_MAX_AGE_MS = 100;
/** One write of the one-way cases: 32 messages in their 2-byte frames, as a stream carriage batch. */
const STREAM_WRITE_BYTES = 32 * (2 + BYTES);

interface OneWayCase {
  name: string;
  direction: "up" | "down";
  writeBytes: number;
  /** Bytes in writes not yet done, at most (0: as the stream's backpressure allows). */
  maxPending: number;
  /**
   * Up only: the server answers on the same stream with an ACK_BYTES acknowledgement (the bytes
   * read so far) per ACK_EVERY bytes, as the TCP inside the tunnel does; with `window`, the page
   * keeps at most that many bytes written and not acknowledged (a TCP sender's window).
   */
  acks?: boolean;
  /** The acknowledgements come as datagrams instead (`/sink-datagram-acks`). */
  datagramAcks?: boolean;
  window?: number;
  /** Run in a dedicated worker of the page, as the tunnel's stream is. */
  inWorker?: boolean;
  /** With `window`: write all the room the window has (in `writeBytes` units) in one write. */
  wholeWindow?: boolean;
}
/** An acknowledgement: the size of a WireGuard message carrying a bare TCP ACK. */
const ACK_BYTES = 96;
/** One acknowledgement per this many bytes read (two full tunnel messages, as delayed ACKs). */
const ACK_EVERY = 2 * (2 + BYTES);
const ONE_WAY: OneWayCase[] = [
  {
    name: "up, 32 messages per write",
    direction: "up",
    writeBytes: STREAM_WRITE_BYTES,
    maxPending: 0,
  },
  {
    name: "up, 3 messages per write, 64 KiB in unfinished writes at most (as the page's queue)",
    direction: "up",
    writeBytes: 3 * (2 + BYTES),
    maxPending: STREAM_QUEUE_BYTES,
  },
  {
    name: "up, as above, with acknowledgements back on the stream (not waited for)",
    direction: "up",
    writeBytes: 3 * (2 + BYTES),
    maxPending: STREAM_QUEUE_BYTES,
    acks: true,
  },
  {
    name: "up, as above, at most 64 KiB not acknowledged (a TCP window, clocked by the acknowledgements)",
    direction: "up",
    writeBytes: 3 * (2 + BYTES),
    maxPending: STREAM_QUEUE_BYTES,
    acks: true,
    window: 64 * 1024,
  },
  {
    name: "up, as above (a 64 KiB window clocked by acknowledgements on the stream), in a worker",
    direction: "up",
    writeBytes: 3 * (2 + BYTES),
    maxPending: STREAM_QUEUE_BYTES,
    acks: true,
    window: 64 * 1024,
    inWorker: true,
  },
  {
    name: "up, a 64 KiB window clocked by acknowledgements on the stream, all its room in one write (as the tunnel's TCP sends), in a worker",
    direction: "up",
    writeBytes: 2 + BYTES,
    maxPending: STREAM_QUEUE_BYTES,
    acks: true,
    window: 64 * 1024,
    inWorker: true,
    wholeWindow: true,
  },
  {
    name: "up, acknowledgements as datagrams (not waited for)",
    direction: "up",
    writeBytes: 3 * (2 + BYTES),
    maxPending: STREAM_QUEUE_BYTES,
    acks: true,
    datagramAcks: true,
  },
  {
    name: "up, acknowledgements as datagrams, at most 64 KiB not acknowledged",
    direction: "up",
    writeBytes: 3 * (2 + BYTES),
    maxPending: STREAM_QUEUE_BYTES,
    acks: true,
    datagramAcks: true,
    window: 64 * 1024,
  },
  { name: "down", direction: "down", writeBytes: STREAM_WRITE_BYTES, maxPending: 0 },
];

const closers = closeAfterAll();

interface CaseResult {
  queues: "browser defaults" | "larger";
  window: number;
  perSecond: number;
  sent: number;
  lost: number;
  droppedIncoming: number;
  expiredOutgoing: number;
  lostOutgoing: number;
  /** Per process kind: share of a core on CPU, and share of the time runnable but not running. */
  cpu: Record<string, { onCpu: number; waitingForCpu: number }>;
  hasStats: boolean;
  offers: string;
  /** The echo server's QUIC: datagrams expired in its send queue, declared lost; its RTT. */
  serverExpiredOutgoing: number;
  serverLostOutgoing: number;
  serverSmoothedRttMs: number;
}

interface ServerStats {
  datagrams: { expiredOutgoing: number; lostOutgoing: number };
  smoothedRtt: number;
  minRtt: number;
}

/** A WebTransport server that sends every datagram back; nothing else. */
async function echoServer(): Promise<{
  port: number;
  hash: Uint8Array;
  /** The QUIC counters of the latest session, as the add-on reports them. */
  stats: () => Promise<ServerStats>;
  /** What /sink has read: bytes, and when the first and the latest arrived. */
  sink: { bytes: number; firstAt: number; lastAt: number };
}> {
  await quicheLoaded;
  const cert = generateDevCertificate(["127.0.0.1"]);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = new Http3Server({
    port,
    host: "127.0.0.1",
    secret: "datagram-ceiling-bench",
    cert: cert.certPem,
    privKey: cert.keyPem,
    // As the relay's: the kernel's default buffer overflows under a burst and reads as loss.
    quicheNodeSocketOptions: { recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 },
  });
  server.startServer();
  await server.ready;
  closers.push(() => server.stopServer());
  let latest: { getStats(): Promise<unknown> } | undefined;
  void (async () => {
    const sessions = server.sessionStream("/echo").getReader();
    for (;;) {
      const { value: session, done } = await sessions.read();
      if (done) return;
      latest = session;
      // Streams: every byte back on the same stream.
      void (async () => {
        const streams = session.incomingBidirectionalStreams.getReader();
        for (;;) {
          const { value: stream, done } = await streams.read();
          if (done) return;
          void stream.readable.pipeTo(stream.writable).catch(() => {});
        }
      })().catch(() => {});
      void (async () => {
        await session.ready;
        const writer = session.datagrams.createWritable().getWriter();
        const reader = session.datagrams.readable.getReader();
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            writer.write(value).catch(() => {});
          }
        } catch {}
      })();
    }
  })();
  // One way: every byte of the page's streams read and counted (/sink; /sink-acks also answers
  // with an acknowledgement per ACK_EVERY bytes on the stream, /sink-datagram-acks as a datagram),
  // or as many bytes as the stream takes written to the page on each stream it opens (/source).
  const sink = { bytes: 0, firstAt: 0, lastAt: 0 };
  type Session = { datagrams: { createWritable(): WritableStream<Uint8Array> } };
  const eachStream = (
    path: string,
    handle: (stream: WebTransportBidirectionalStream, session: Session) => void,
  ) =>
    void (async () => {
      const sessions = server.sessionStream(path).getReader();
      for (;;) {
        const { value: session, done } = await sessions.read();
        if (done) return;
        void (async () => {
          const streams = session.incomingBidirectionalStreams.getReader();
          for (;;) {
            const { value: stream, done } = await streams.read();
            if (done) return;
            handle(stream, session);
          }
        })().catch(() => {});
      }
    })();
  const sinkWith =
    (acks: boolean, datagrams?: WritableStreamDefaultWriter<Uint8Array>) =>
    (stream: WebTransportBidirectionalStream) => {
      void (async () => {
        const reader = stream.readable.getReader();
        const writer = datagrams ?? stream.writable.getWriter();
        let read = 0;
        let acked = 0;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          const now = performance.now();
          if (sink.bytes === 0) sink.firstAt = now;
          sink.lastAt = now;
          sink.bytes += value.byteLength;
          read += value.byteLength;
          if (acks && read - acked >= ACK_EVERY) {
            acked = read;
            const ack = new Uint8Array(ACK_BYTES);
            new DataView(ack.buffer).setFloat64(0, read);
            writer.write(ack).catch(() => {});
          }
        }
      })().catch(() => {});
    };
  eachStream("/sink", sinkWith(false));
  eachStream("/sink-acks", sinkWith(true));
  eachStream("/sink-datagram-acks", (stream, session) =>
    sinkWith(true, session.datagrams.createWritable().getWriter())(stream),
  );
  eachStream("/source", (stream) => {
    void (async () => {
      const writer = stream.writable.getWriter();
      const chunk = new Uint8Array(STREAM_WRITE_BYTES);
      for (;;) {
        await writer.ready;
        await writer.write(chunk);
      }
    })().catch(() => {});
  });
  return {
    port,
    hash: cert.sha256,
    stats: async () => (await latest!.getStats()) as ServerStats,
    sink,
  };
}

interface OneWayArgs {
  url: string;
  hash: number[];
  c: OneWayCase;
  seconds: number;
  ackBytes: number;
}

/** Runs `source` (a function's text) on `args` in a dedicated worker of the page. */
const inWorker = (source: string, args: OneWayArgs): Promise<number> => {
  const script = `onmessage = async (e) => postMessage(await (${source})(e.data));`;
  const worker = new Worker(URL.createObjectURL(new Blob([script], { type: "text/javascript" })));
  return new Promise((resolve) => {
    worker.onmessage = (e: MessageEvent<number>) => {
      resolve(e.data);
      worker.terminate();
    };
    worker.postMessage(args);
  });
};

/**
 * One way on one stream, run in the page (or a worker of it): its source text is evaluated there,
 * so it uses nothing from this module.
 */
const oneWayInPage = async ({ url, hash, c, seconds, ackBytes }: OneWayArgs): Promise<number> => {
  const wt = new WebTransport(url, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(hash) }],
  });
  await wt.ready;
  const stream = await wt.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  const end = performance.now() + seconds * 1000;
  let bytes = 0;
  if (c.direction === "up") {
    const chunk = new Uint8Array(c.writeBytes);
    let pending = 0;
    const done = () => {
      pending -= chunk.length;
    };
    // The acknowledgements: the latest count of bytes the server read.
    let written = 0;
    let acked = 0;
    let wake: (() => void) | undefined;
    if (c.acks)
      void (async () => {
        const reader = (c.datagramAcks ? wt.datagrams.readable : stream.readable).getReader();
        let partial = new Uint8Array(0);
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          const all = new Uint8Array(partial.length + value.length);
          all.set(partial);
          all.set(value, partial.length);
          let at = 0;
          for (; at + ackBytes <= all.length; at += ackBytes)
            acked = new DataView(all.buffer, at, 8).getFloat64(0);
          partial = all.slice(at);
          wake?.();
        }
      })().catch(() => {});
    const whole = new Uint8Array(c.wholeWindow ? (c.window ?? 0) : 0);
    while (performance.now() < end) {
      if (c.wholeWindow && c.window) {
        // As the tunnel's TCP: all the window has room for, in whole messages, in one write.
        const room = c.window - (written - acked);
        const size = Math.floor(room / c.writeBytes) * c.writeBytes;
        if (size === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 50);
          });
          wake = undefined;
        } else {
          written += size;
          writer.write(whole.subarray(0, size)).catch(() => {});
          await Promise.resolve();
        }
      } else if (c.window && written - acked + chunk.length > c.window) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
        wake = undefined;
      } else if (!c.maxPending) {
        await writer.ready;
        void writer.write(chunk).catch(() => {});
      } else if (pending + chunk.length > c.maxPending) {
        await new Promise((resolve) => setTimeout(resolve, 0));
      } else {
        pending += chunk.length;
        written += chunk.length;
        writer.write(chunk).then(done, () => {});
        await Promise.resolve();
      }
    }
  } else {
    void writer.write(new Uint8Array(1)).catch(() => {}); // the server sees the stream
    const reader = stream.readable.getReader();
    let first = 0;
    while (performance.now() < end) {
      const { value, done } = await reader.read();
      if (done) break;
      if (first === 0) first = performance.now();
      bytes += value.byteLength;
    }
    bytes = (bytes * seconds * 1000) / (performance.now() - first);
  }
  wt.close();
  return bytes;
};

it("raw HTTP/3 datagram echo from Chromium: what limits it", async () => {
  const { port, hash, stats: serverStats, sink } = await echoServer();
  // A loopback http:// origin is a secure context, as WebTransport requires.
  const page_ = createServer((_, res) => res.end("<!doctype html><title>ceiling</title>"));
  await new Promise<void>((resolve) => page_.listen(0, "127.0.0.1", resolve));
  closers.push(() => page_.close());
  const chromium = await chromiumBrowser();
  closers.push(() => chromium.close());
  const page = await chromium.newPage();
  await page.goto(`http://127.0.0.1:${(page_.address() as AddressInfo).port}/`);

  const runCase = async (tuned: boolean, window: number): Promise<CaseResult> => {
    const before = schedTimes();
    const started = performance.now();
    const result = await page.evaluate(
      async ({ url, hash, tuned, window, seconds, bytes, highWaterMark, maxAge }) => {
        const wt = new WebTransport(url, {
          serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(hash) }],
        });
        await wt.ready;
        if (tuned) {
          wt.datagrams.incomingHighWaterMark = highWaterMark;
          wt.datagrams.outgoingMaxAge = maxAge;
        }
        // getStats() is recent in Chromium: without it the flood's own loss count remains.
        const withStats = wt as unknown as {
          getStats?: () => Promise<{ datagrams?: Record<string, number> }>;
        };
        const stats = async () => (await withStats.getStats?.())?.datagrams ?? {};
        const duplex = wt.datagrams as unknown as Record<string, unknown>;
        const offers = ["incomingHighWaterMark", "outgoingMaxAge"].filter((k) => k in duplex);
        const before = await stats();
        const writer = wt.datagrams.writable.getWriter();
        const reader = wt.datagrams.readable.getReader();
        const datagram = new Uint8Array(bytes);
        const sentAt: number[] = [];
        let head = 0;
        let sent = 0;
        let received = 0;
        let lost = 0;
        const start = performance.now();
        const end = start + seconds * 1000;
        const fill = () => {
          const now = performance.now();
          while (sentAt.length - head < window && now < end) {
            sentAt.push(now);
            sent++;
            writer.write(datagram).catch(() => {});
          }
        };
        const sweep = setInterval(() => {
          const now = performance.now();
          while (head < sentAt.length && now - sentAt[head]! > 250) {
            head++;
            lost++;
          }
          fill();
        }, 50);
        const reading = (async () => {
          for (;;) {
            const { done } = await reader.read();
            if (done) return;
            received++;
            if (head < sentAt.length) head++;
            fill();
          }
        })();
        fill();
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 300));
        clearInterval(sweep);
        const after = await stats();
        const diff = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
        // Closed by the next call, once the server's counters are read.
        (globalThis as unknown as { close_: () => void }).close_ = () => {
          wt.close();
          void reading.catch(() => {});
        };
        return {
          perSecond: received / seconds,
          sent,
          lost,
          droppedIncoming: diff("droppedIncoming"),
          expiredOutgoing: diff("expiredOutgoing"),
          lostOutgoing: diff("lostOutgoing"),
          hasStats: typeof withStats.getStats === "function",
          offers: offers.join(","),
        };
      },
      {
        url: `https://127.0.0.1:${port}/echo`,
        hash: [...hash],
        tuned,
        window,
        seconds: SECONDS,
        bytes: BYTES,
        highWaterMark: INCOMING_HIGH_WATER_MARK,
        maxAge: OUTGOING_MAX_AGE_MS,
      },
    );
    const cpu = cpuShares(before, schedTimes(), performance.now() - started);
    const server = await serverStats();
    await page.evaluate(() => (globalThis as unknown as { close_: () => void }).close_());
    return {
      queues: tuned ? "larger" : "browser defaults",
      window,
      ...result,
      serverExpiredOutgoing: server.datagrams.expiredOutgoing,
      serverLostOutgoing: server.datagrams.lostOutgoing,
      serverSmoothedRttMs: Number(server.smoothedRtt.toFixed(2)),
      cpu,
    };
  };

  /** The same messages on one bidirectional stream: `perWrite` frames per write, `window` in flight. */
  const runStream = async (perWrite: number, window: number) => {
    const result = await page.evaluate(
      async ({ url, hash, perWrite, window, seconds, bytes }) => {
        const wt = new WebTransport(url, {
          serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(hash) }],
        });
        await wt.ready;
        const stream = await wt.createBidirectionalStream();
        const writer = stream.writable.getWriter();
        const reader = stream.readable.getReader();
        const frame = 2 + bytes;
        const batch = new Uint8Array(frame * perWrite);
        for (let i = 0; i < perWrite; i++) {
          batch[i * frame] = bytes >>> 8;
          batch[i * frame + 1] = bytes & 0xff;
        }
        let sent = 0;
        let receivedBytes = 0;
        const start = performance.now();
        const end = start + seconds * 1000;
        const received = () => Math.floor(receivedBytes / frame);
        const fill = () => {
          while (sent - received() + perWrite <= window && performance.now() < end) {
            sent += perWrite;
            writer.write(batch).catch(() => {});
          }
        };
        let at = 0;
        const reading = (async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done || !value) return;
            receivedBytes += value.length;
            if (performance.now() < end) at = received();
            fill();
          }
        })();
        fill();
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        wt.close();
        void reading.catch(() => {});
        return { perSecond: at / seconds, sent };
      },
      {
        url: `https://127.0.0.1:${port}/echo`,
        hash: [...hash],
        perWrite,
        window,
        seconds: SECONDS,
        bytes: BYTES,
      },
    );
    return { carriage: "stream", perWrite, window, ...result };
  };

  /**
   * One way on one stream, for `seconds`. Up: the page writes `writeBytes` at a time, as fast as the
   * stream's backpressure lets it or, with `maxPending`, with at most that many bytes in writes
   * not yet done (as the page's stream queue limit does); the server counts what it read. Down: the
   * page reads what the server writes as fast as its stream takes it.
   */
  const runOneWay = async (c: OneWayCase) => {
    sink.bytes = 0;
    const args: OneWayArgs = {
      url: `https://127.0.0.1:${port}/${c.direction === "up" ? (c.datagramAcks ? "sink-datagram-acks" : c.acks ? "sink-acks" : "sink") : "source"}`,
      hash: [...hash],
      c,
      seconds: SECONDS,
      ackBytes: ACK_BYTES,
    };
    // A string for Playwright to evaluate: the function's source, run in the page or in a worker.
    const call = c.inWorker
      ? `(${inWorker.toString()})(${JSON.stringify(oneWayInPage.toString())}, ${JSON.stringify(args)})`
      : `(${oneWayInPage.toString()})(${JSON.stringify(args)})`;
    const pageBytes = (await page.evaluate(call)) as number;
    // Up: what arrived at the server, over the time it took to arrive.
    const bytesPerSecond =
      c.direction === "up"
        ? (sink.bytes * 1000) / Math.max(1, sink.lastAt - sink.firstAt)
        : pageBytes / SECONDS;
    return { name: c.name, megabitsPerSecond: Number(((bytesPerSecond * 8) / 1e6).toFixed(1)) };
  };

  const cases = [
    [false, 32],
    [true, 32],
    [false, 256],
    [true, 256],
  ] as const;
  const runs: CaseResult[] = [];
  for (let round = 0; round < (ONE_WAY_ONLY ? 0 : ROUNDS); round++)
    for (const [tuned, window] of cases) runs.push(await runCase(tuned, window));
  const summary = cases.map(([tuned, window]) => {
    const mine = runs.filter((r) => r.window === window && (r.queues === "larger") === tuned);
    const sum = (key: keyof CaseResult) => mine.reduce((a, r) => a + (r[key] as number), 0);
    return {
      queues: mine[0]?.queues,
      window,
      perSecond: Math.round(sum("perSecond") / mine.length),
      sent: sum("sent"),
      lost: sum("lost"),
      droppedIncoming: sum("droppedIncoming"),
      expiredOutgoing: sum("expiredOutgoing"),
      lostOutgoing: sum("lostOutgoing"),
      serverExpiredOutgoing: sum("serverExpiredOutgoing"),
      serverLostOutgoing: sum("serverLostOutgoing"),
      serverSmoothedRttMs: Number((sum("serverSmoothedRttMs") / mine.length).toFixed(2)),
      cpu: mine.at(-1)?.cpu,
    };
  });
  const base = summary[0]!.perSecond || 1;
  const report = summary.map((s) => ({
    ...s,
    vsDefaultsWindow32: Number((s.perSecond / base).toFixed(2)),
  }));
  const streamCases = [
    [1, 32],
    [32, 64],
  ] as const;
  const streamRuns: Awaited<ReturnType<typeof runStream>>[] = [];
  for (let round = 0; round < (ONE_WAY_ONLY ? 0 : ROUNDS); round++)
    for (const [perWrite, window] of streamCases)
      streamRuns.push(await runStream(perWrite, window));
  const streamReport = streamCases.map(([perWrite, window]) => {
    const mine = streamRuns.filter((r) => r.perWrite === perWrite && r.window === window);
    const perSecond = Math.round(mine.reduce((a, r) => a + r.perSecond, 0) / mine.length);
    return {
      carriage: "stream",
      perWrite,
      window,
      perSecond,
      megabitsEachWay: Number(((perSecond * BYTES * 8) / 1e6).toFixed(1)),
      vsDatagramsDefaultsWindow32: Number((perSecond / base).toFixed(2)),
    };
  });
  report.push(...(streamReport as unknown as typeof report));
  const oneWayRuns: Awaited<ReturnType<typeof runOneWay>>[] = [];
  for (let round = 0; round < ROUNDS; round++)
    for (const c of round % 2 ? [...ONE_WAY].reverse() : ONE_WAY)
      oneWayRuns.push(await runOneWay(c));
  const oneWay = ONE_WAY.map((c) => {
    const rounds = oneWayRuns.filter((r) => r.name === c.name).map((r) => r.megabitsPerSecond);
    return {
      carriage: "stream, one way",
      case: c.name,
      megabitsPerSecond: Number((rounds.reduce((a, r) => a + r, 0) / rounds.length).toFixed(1)),
      rounds,
    };
  });
  report.push(...(oneWay as unknown as typeof report));
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, "datagram-ceiling.json"),
    `${JSON.stringify({ seconds: SECONDS, rounds: ROUNDS, bytes: BYTES, report, runs }, null, 2)}\n`,
  );
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  expect(runs.every((r) => r.perSecond > 0)).toBe(true);
  expect(streamRuns.every((r) => r.perSecond > 0)).toBe(true);
  expect(oneWayRuns.every((r) => r.megabitsPerSecond > 0)).toBe(true);
});
