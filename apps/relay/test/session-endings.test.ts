/**
 * The relay says what happened when a session ends (docs/relay.md, "How sessions end"): a session
 * that never opens its control stream is refused and counted; a client that closes during its
 * hello is no failure of the relay; a bad control frame after the welcome is answered with an
 * error frame; a session closed for idleness is logged as `idle`; a client that closes its session
 * is logged with its own close code and reason. Against the relay process.
 */

import { quicheLoaded, WebTransport } from "@fails-components/webtransport";
import { encodeFrame, FrameReader, GOING_AWAY } from "@wiregate/relay-protocol";
import { describe, expect, it } from "vitest";
import {
  connect,
  metricsText,
  sample,
  type TestTransport,
  TOKEN,
  TRANSPORTS,
  waitFor,
} from "./helpers.js";
import { lineMatching, type RelayProcess, relayProcesses } from "./relay-process.js";

const { relayWith, running } = relayProcesses();

const refused = (code: string) => `wiregate_relay_refusals_total{code="${code}"}`;
const metric = async (relay: RelayProcess, series: string) =>
  sample(await metricsText(relay.address), series);
const sessionsHeld = async (relay: RelayProcess) =>
  (
    (await (await fetch(`http://127.0.0.1:${relay.address.opsPort}/healthz`)).json()) as {
      sessions: number;
    }
  ).sessions;

/** A bare WebTransport session to the relay, closed when the test ends. */
async function session(relay: RelayProcess, transport: TestTransport): Promise<WebTransport> {
  await quicheLoaded;
  const wt = new WebTransport(relay.address.url, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: relay.address.certificateSha256 }],
    ...(transport === "http3" ? { requireUnreliable: true } : { forceReliable: true }),
  });
  wt.closed.catch(() => {});
  running.push({
    stop: () => {
      try {
        wt.close();
      } catch {
        // Already closed.
      }
    },
  });
  await wt.ready;
  return wt;
}

/** Reads control frames from `readable` until one matches. */
async function frameMatching(
  readable: ReadableStream<Uint8Array>,
  test: (frame: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const reader = readable.getReader();
  const frames = new FrameReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("control stream ended before the frame came");
    for (const result of frames.push(value)) {
      if (!result.ok) throw new Error(result.detail);
      const frame = result.frame as unknown as Record<string, unknown>;
      if (test(frame)) {
        reader.releaseLock();
        return frame;
      }
    }
  }
}

/**
 * Every log line of `relay` up to the refusal of a session with a wrong token, opened now: the
 * relay handles sessions in order, so what an earlier session led to is logged by then.
 */
async function linesUntilMarker(relay: RelayProcess): Promise<string[]> {
  const seen: string[] = [];
  await expect(connect(relay.address, { token: "wrong-token-marker" })).rejects.toThrow();
  await lineMatching(relay.lines, (l) => {
    seen.push(l);
    return l.includes('"session refused"') && l.includes('"reason":"unauthorized"');
  });
  return seen;
}

describe.each(TRANSPORTS)("how sessions end over %s", (transport) => {
  it("refuses and counts a session that never opens its control stream", async () => {
    const relay = await relayWith(["--hello-timeout=500"]);
    await session(relay, transport);
    await waitFor(async () => (await metric(relay, refused("bad-hello"))) === 1, 20_000);
    await lineMatching(
      relay.lines,
      (l) => l.includes('"session refused"') && l.includes("no control stream in time"),
    );
    // Before: closed at the deadline, neither logged nor counted.
    await waitFor(async () => (await sessionsHeld(relay)) === 0, 20_000);
  }, 30_000);

  it("logs no failure when the client closes during its hello", async () => {
    const relay = await relayWith(["--hello-timeout=60000"]);
    const wt = await session(relay, transport);
    const control = await wt.createBidirectionalStream();
    // Half a frame: the relay waits for the rest of the hello when the client goes.
    const writer = control.writable.getWriter();
    await writer.write(encodeFrame({ type: "hello", version: 1, upstream: "echo" }).subarray(0, 6));
    await waitFor(async () => (await sessionsHeld(relay)) === 1, 20_000);
    wt.close();
    await waitFor(async () => (await sessionsHeld(relay)) === 0, 20_000);
    const seen = await linesUntilMarker(relay);
    // Before: warn "session failed" ("Session closed … with code 0 and reason").
    expect(seen.filter((l) => l.includes('"session failed"'))).toEqual([]);
    expect(seen.filter((l) => l.includes('"session refused"'))).toHaveLength(1); // the marker
  }, 30_000);

  it("answers a bad control frame after the welcome with an error frame, then closes", async () => {
    const relay = await relayWith([]);
    const wt = await session(relay, transport);
    const control = await wt.createBidirectionalStream();
    const writer = control.writable.getWriter();
    await writer.write(encodeFrame({ type: "hello", version: 1, token: TOKEN, upstream: "echo" }));
    const [welcomeSide, errorSide] = control.readable.tee();
    await frameMatching(welcomeSide, (f) => f.type === "welcome");
    void welcomeSide.cancel().catch(() => {});
    // A frame of 5 bytes that is not JSON.
    await writer.write(Uint8Array.of(0, 0, 0, 5, 0x7b, 0x7b, 0x7b, 0x7b, 0x7b));
    const error = await frameMatching(errorSide, (f) => f.type === "error");
    // Before: the session closed without a frame; the reason was only in the relay's log.
    expect(error).toMatchObject({ code: "bad-frame" });
    expect(String(error.message)).toMatch(/^bad control frame: /);
    await wt.closed;
    await lineMatching(
      relay.lines,
      (l) => l.includes('"session closed"') && l.includes('"reason":"bad control frame: '),
    );
  }, 30_000);

  it("logs the client's own close code and reason when the client closes", async () => {
    const relay = await relayWith([]);
    const conn = await connect(relay.address, { transport });
    conn.close(GOING_AWAY);
    const line = JSON.parse(
      await lineMatching(relay.lines, (l) => l.includes('"session closed"')),
    ) as Record<string, unknown>;
    // Before: `client-closed` alone, as a client that vanished (code 0, no reason) is logged.
    expect(line).toMatchObject({
      reason: "client-closed",
      closeCode: GOING_AWAY.closeCode,
      closeReason: GOING_AWAY.reason,
    });
  }, 30_000);

  it("logs a session closed for idleness as idle, also when the client closes first", async () => {
    const relay = await relayWith(["--idle-timeout=500"]);
    const conn = await connect(relay.address, { transport });
    // The client hears `idle` and closes at once (connectRelay does), before the relay's own close.
    const { error } = await conn.closed;
    expect(error).toMatchObject({ code: "idle" });
    // Before: logged as client-closed.
    await lineMatching(
      relay.lines,
      (l) => l.includes('"session closed"') && l.includes('"reason":"idle"'),
    );
  }, 30_000);
});
