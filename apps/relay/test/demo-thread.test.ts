/**
 * The demo peer on its own worker thread: it answers while the relay's thread is blocked, the
 * relay CLI runs it there, and when the thread dies the relay drops the "demo" upstream, says why,
 * and goes on relaying for the others.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { quicheLoaded, WebTransport } from "@fails-components/webtransport";
import { generatePrivateKey, keyToBase64, nobleCrypto } from "@wiregate/core";
import { connectRelay, type WebTransportConstructor } from "@wiregate/relay-protocol";
import { afterEach, describe, expect, it } from "vitest";
import { DemoPeerThread } from "../src/demo-peer-thread.js";
import { startDemoUpstream } from "../src/demo-upstream.js";
import { createLogger } from "../src/logger.js";
import type { RelayAddress } from "../src/relay.js";
import { connect, type Echo, roundTrip, startEcho, startRelay, TOKEN } from "./helpers.js";
import { relayProcesses } from "./relay-process.js";

const WORKER = new URL("../dist/demo-peer-worker.js", import.meta.url);
const closers: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
const { relayWith } = relayProcesses();

/** A session naming `upstream` with a fresh key hint (the demo peer hands out addresses by key). */
async function connectWithKey(address: RelayAddress, upstream: string) {
  await quicheLoaded;
  const key = generatePrivateKey((n) => crypto.getRandomValues(new Uint8Array(n)));
  return connectRelay({
    WebTransport: WebTransport as unknown as WebTransportConstructor,
    url: address.url,
    token: TOKEN,
    upstream,
    publicKey: keyToBase64(nobleCrypto.x25519Public(key)),
    serverCertificateHashes: [{ algorithm: "sha-256", value: address.certificateSha256 }],
    transportOptions: { forceReliable: true },
  });
}

/** A hello naming `upstream` with a fresh key hint: the welcome, or the relay's refusal. */
async function helloWithKey(address: RelayAddress, upstream: string) {
  const conn = await connectWithKey(address, upstream);
  conn.close();
  return conn.welcome;
}

/** A WireGuard client of `demo` on a thread of its own; it pings on "go" (fixtures/ping-demo-worker.mjs). */
function pingClient(
  demo: { publicKey: string; host: string; port: number },
  flag = new Int32Array(new SharedArrayBuffer(4)),
): Worker {
  return new Worker(new URL("./fixtures/ping-demo-worker.mjs", import.meta.url), {
    workerData: { flag, peerPublicKey: demo.publicKey, host: demo.host, port: demo.port },
  });
}

/**
 * A relay with an echo upstream and the demo upstream on `fixture`, a worker entry that fails on
 * purpose; its log lines are kept.
 */
async function relayWithFailingDemo(fixture: string, onGone?: () => void) {
  const echo: Echo = await startEcho();
  closers.push(() => echo.close());
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("debug", (line) => lines.push(JSON.parse(line)));
  const { relay, address } = await startRelay(echo.port, {}, {});
  closers.push(() => relay.stop(0));
  const dir = mkdtempSync(join(tmpdir(), "wiregate-demo-thread-"));
  const entry = new URL(`./fixtures/${fixture}`, import.meta.url);
  const demo = await startDemoUpstream(relay, logger, dir, {
    entry,
    ...(onGone ? { onGone } : {}),
  });
  closers.push(() => demo.close());
  return { relay, address, demo, lines };
}

describe("demo peer on a worker thread", () => {
  it("answers a ping inside the tunnel while this thread is blocked", async () => {
    const demo = await DemoPeerThread.start({ entry: WORKER });
    closers.push(() => demo.close());
    expect(demo.threadId).toBeGreaterThan(0);
    // The client runs on a thread of its own too; this thread blocks until it has the reply.
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const client = pingClient(demo, flag);
    closers.push(() => client.terminate());
    await new Promise((resolve, reject) => {
      client.once("message", resolve);
      client.once("error", reject);
    });
    // From "go" on this thread runs nothing until woken: the handshake, the echo and its
    // encryption must all happen elsewhere. In-process, the wait would end "timed-out".
    client.postMessage("go");
    expect(Atomics.wait(flag, 0, 0, 30_000)).toBe("ok");
    expect(await demo.clientCount()).toBe(1);
  });

  it("forwards the demo peer's trace events to the relay's log, at debug level with `at`", async () => {
    const echo: Echo = await startEcho();
    closers.push(() => echo.close());
    const { relay } = await startRelay(echo.port);
    closers.push(() => relay.stop(0));
    let answered: (line: Record<string, unknown>) => void = () => {};
    const response = new Promise<Record<string, unknown>>((resolve) => {
      answered = resolve;
    });
    const logger = createLogger("debug", (text) => {
      const line = JSON.parse(text);
      if (line.msg === "demo peer" && line.kind === "response-sent") answered(line);
    });
    const dir = mkdtempSync(join(tmpdir(), "wiregate-demo-thread-"));
    const demo = await startDemoUpstream(relay, logger, dir, { entry: WORKER });
    closers.push(() => demo.close());
    const client = pingClient(demo);
    closers.push(() => client.terminate());
    await new Promise((resolve) => client.once("message", resolve));
    const before = Date.now();
    client.postMessage("go");
    const line = await response;
    expect(line).toMatchObject({ level: "debug", role: "responder" });
    expect(line.at).toBeGreaterThanOrEqual(before);
    expect(line.at).toBeLessThanOrEqual(Date.now());
  });

  it("is where the relay CLI runs its demo peer with --demo-thread (the relay's own thread without)", async () => {
    const threaded = await relayWith(["--demo", "--demo-thread"]);
    expect(threaded.listening.demoPeerThread).toBeGreaterThan(0);
    expect((await helloWithKey(threaded.address, "demo")).addresses).toHaveLength(2);
    const inline = await relayWith(["--demo"]);
    expect(inline.listening.demoPeerThread).toBe(0);
    expect((await helloWithKey(inline.address, "demo")).addresses).toHaveLength(2);
  });

  it("an address assigner that never answers: the hello is refused within its deadline, retryable", async () => {
    const echo: Echo = await startEcho();
    closers.push(() => echo.close());
    const { relay, address } = await startRelay(echo.port, {
      limits: { helloTimeoutMs: 300, maxSessionsPerAddress: 1 },
    });
    closers.push(() => relay.stop(0));
    relay.upstreams.register(
      { name: "silent", host: "127.0.0.1", port: echo.port },
      { addressesFor: () => new Promise<undefined>(() => {}) },
    );
    await expect(helloWithKey(address, "silent")).rejects.toMatchObject({
      code: "upstream-unreachable",
      message: expect.stringContaining("upstream silent did not answer in time"),
    });
    // The one slot of this address went back: another session opens and relays.
    const conn = await connect(address, { upstream: "echo" });
    closers.push(() => conn.close());
    expect(await roundTrip(conn, conn.datagrams[Symbol.asyncIterator](), 1)).toBeGreaterThan(0);
  });

  it("taken down by an uncaught error: the demo upstream goes, the log says why, the others relay on", async () => {
    // Its first question for addresses throws in the thread.
    const { relay, address, demo, lines } = await relayWithFailingDemo("failing-demo-worker.mjs");
    expect(relay.upstreams.names()).toContain("demo");

    await expect(helloWithKey(address, "demo")).rejects.toMatchObject({
      code: "upstream-unreachable",
      message: expect.stringContaining("deliberate failure in the demo peer's thread"),
    });
    expect(lines.find((line) => line.msg === "demo peer failed: upstream removed")).toMatchObject({
      level: "error",
      upstream: "demo",
      error: expect.stringContaining("deliberate failure"),
    });
    expect(relay.upstreams.names()).toEqual(["echo"]);
    await expect(helloWithKey(address, "demo")).rejects.toMatchObject({ code: "unknown-upstream" });
    await expect(demo.addressesFor(new Uint8Array(32))).rejects.toThrow(/demo peer thread failed/);

    const conn = await connect(address, { upstream: "echo" });
    closers.push(() => conn.close());
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    expect(await roundTrip(conn, iterator, 1)).toBeGreaterThan(0);
  });

  it("dying with a session open: the session hears its upstream is gone (retryable) and closes", async () => {
    // Its second question for addresses throws in the thread: the first session is open then.
    let gone = 0;
    const { relay, address, lines } = await relayWithFailingDemo(
      "failing-later-demo-worker.mjs",
      () => gone++,
    );

    const open = await connectWithKey(address, "demo");
    closers.push(() => open.close());
    expect(open.welcome.addresses).toHaveLength(2);
    expect([...relay.sessions].map((s) => s.upstream)).toEqual(["demo"]);
    // The second hello's question kills the thread.
    await expect(helloWithKey(address, "demo")).rejects.toMatchObject({
      code: "upstream-unreachable",
    });
    expect(await open.closed).toMatchObject({
      error: { code: "upstream-unreachable", message: "the demo peer failed" },
    });
    // The relay closes it just after the frame (so it can leave): its table empties then.
    await expect.poll(() => relay.sessions.size).toBe(0);
    expect(gone).toBe(1);
    expect(lines.find((line) => line.msg === "demo peer failed: upstream removed")).toMatchObject({
      sessionsClosed: 1,
    });
  });

  it("ends a thread that does not answer the close", async () => {
    const stuck = new URL("./fixtures/stuck-demo-worker.mjs", import.meta.url);
    const demo = await DemoPeerThread.start({ entry: stuck });
    expect(await demo.addressesFor(new Uint8Array(32))).toHaveLength(2);
    await demo.close(100);
    await expect(demo.addressesFor(new Uint8Array(32))).rejects.toThrow(/closed|exited/);
  });
});
