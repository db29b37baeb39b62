/**
 * A relay that does not run for a while (its process stopped with SIGSTOP: what a starved machine
 * does to it) must not turn that delay into a refusal or a closed session, on every transport. Its
 * deadlines are measured across the stop: Node runs due timers before it reads the sockets, so a
 * plain timer judged the client before reading what the client had sent meanwhile. Before, a hello
 * that arrived while the relay was stopped for longer than `--hello-timeout` was refused as
 * `bad-hello: no hello in time` (which the page takes as final: the tunnel failed for good), and a
 * session whose client sent while the relay was stopped for longer than `--idle-timeout` was
 * closed as idle. A client that is itself late with its hello is still refused, as late
 * (`isLateHello`), a refusal the page retries.
 */

import { quicheLoaded } from "@fails-components/webtransport";
import {
  connectRelay,
  isLateHello,
  LATE_HELLO,
  type RelayConnection,
  RelayError,
  type WebTransportConstructor,
} from "@wiregate/relay-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Echo, seqOf, startEcho, TOKEN, transportMessage } from "./helpers.js";
import { type RelayProcess, spawnRelay } from "./relay-process.js";
import { devCertFile, TRANSPORTS, transportDialer } from "./websocket-client.js";

/** The relay's deadlines, short so the stops are short; each stop outlasts its deadline twice. */
const HELLO_TIMEOUT_MS = 1_000;
const IDLE_TIMEOUT_MS = 1_000;
const STOP_MS = 2_500;

let echo: Echo;
let relay: RelayProcess;
let dial: Awaited<ReturnType<typeof transportDialer>>;

beforeAll(async () => {
  echo = await startEcho();
  relay = await spawnRelay([
    `--upstream=echo=127.0.0.1:${echo.port}`,
    `--hello-timeout=${HELLO_TIMEOUT_MS}`,
    `--idle-timeout=${IDLE_TIMEOUT_MS}`,
  ]);
  dial = await transportDialer(devCertFile(relay.certDir));
  await quicheLoaded;
});

afterAll(async () => {
  relay?.stop();
  await echo?.close();
});

/** Stops the relay process for `STOP_MS`; resolves once it runs again. */
async function stopRelay(): Promise<void> {
  relay.child.kill("SIGSTOP");
  await new Promise((resolve) => setTimeout(resolve, STOP_MS));
  relay.child.kill("SIGCONT");
}

/**
 * `Base`, whose first stream (the control stream) runs `beforeHello` just before the client's
 * first write on it (the hello), and writes once what it returned has settled.
 */
function hookedBeforeHello(
  Base: WebTransportConstructor,
  beforeHello: () => Promise<void> | undefined,
) {
  return class extends Base {
    #first = true;
    override async createBidirectionalStream() {
      const stream = await super.createBidirectionalStream();
      if (!this.#first) return stream;
      this.#first = false;
      const writer = stream.writable.getWriter();
      let hello = true;
      const writable = new WritableStream<Uint8Array>({
        async write(chunk) {
          if (hello) await beforeHello();
          hello = false;
          return writer.write(chunk);
        },
        close: () => writer.close(),
        abort: (reason) => writer.abort(reason),
      });
      return { readable: stream.readable, writable };
    }
  };
}

/** A session to the echo upstream over `WebTransport` (the transport's constructor, or hooked). */
function connectEcho(
  WebTransport: WebTransportConstructor,
  transportOptions: Record<string, unknown>,
  carriage?: "stream",
) {
  return connectRelay({
    WebTransport,
    url: relay.address.url,
    token: TOKEN,
    upstream: "echo",
    serverCertificateHashes: [{ algorithm: "sha-256", value: relay.address.certificateSha256 }],
    transportOptions,
    ...(carriage ? { carriage } : {}),
  });
}

/** Sends one message and waits for its echo. */
async function roundTrip(conn: RelayConnection, seq: number): Promise<void> {
  const iterator = conn.datagrams[Symbol.asyncIterator]();
  conn.send(transportMessage(seq));
  for (;;) {
    const next = await iterator.next();
    if (next.done) throw new Error("session ended");
    if (seqOf(next.value) === seq) return;
  }
}

describe.each(TRANSPORTS)("a relay stopped for longer than its deadlines, over %s", (transport) => {
  it("welcomes a hello that arrived while it was stopped", async () => {
    const { Ctor, transportOptions } = dial(transport);
    const stopped: Promise<void>[] = [];
    // The relay stops just before the hello leaves: it waits in the relay's socket while the
    // relay's hello deadline passes.
    const hooked = hookedBeforeHello(Ctor, () => {
      stopped.push(stopRelay());
      return undefined;
    });
    const conn = await connectEcho(hooked, transportOptions, "stream");
    expect(stopped).toHaveLength(1);
    await Promise.all(stopped);
    expect(conn.welcome.type).toBe("welcome");
    await roundTrip(conn, 1);
    conn.close();
  });

  it("still refuses a client that is itself late with its hello, as late: a retry may be welcomed", async () => {
    const { Ctor, transportOptions } = dial(transport);
    const late = hookedBeforeHello(
      Ctor,
      () => new Promise((resolve) => setTimeout(resolve, HELLO_TIMEOUT_MS * 2)),
    );
    const refused = await connectEcho(late, transportOptions).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RelayError);
    const frame = (refused as RelayError).frame;
    expect(frame).toMatchObject({ code: "bad-hello", message: LATE_HELLO.noHello });
    expect(isLateHello(frame!)).toBe(true);
  });

  it("keeps a session whose client sent while it was stopped", async () => {
    const { Ctor, transportOptions } = dial(transport);
    const conn = await connectEcho(Ctor, transportOptions, "stream");
    await roundTrip(conn, 1);
    let ended: { error?: { code: string } } | undefined;
    void conn.closed.then((result) => {
      ended = result;
    });
    const stopped = stopRelay();
    // Sent while the relay is stopped, well after the last message: the relay reads it only once
    // it runs again, when the session has been silent for longer than the idle timeout.
    await new Promise((resolve) => setTimeout(resolve, STOP_MS / 2));
    const answered = roundTrip(conn, 2);
    await stopped;
    await answered;
    // Still open: a further round trip, within the idle timeout of the last one.
    await roundTrip(conn, 3);
    expect(ended).toBeUndefined();
    conn.close();
  });
});
