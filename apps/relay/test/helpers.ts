/** Test fixtures: a relay on loopback, a UDP echo upstream, and Node clients via connectRelay. */

import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quicheLoaded, WebTransport } from "@fails-components/webtransport";
import {
  type CarriageChoice,
  connectRelay,
  type RelayConnection,
  type WebTransportConstructor,
} from "@wiregate/relay-protocol";
import { DEFAULT_CONFIG, type Limits, mergeConfig, type RelayConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { Relay, type RelayAddress, type RelayOptions } from "../src/relay.js";

export const TOKEN = "test-token-0123456789abcdef";

/** Every relay test that moves datagrams runs on both: HTTP/3 (QUIC datagrams) and HTTP/2. */
export const TRANSPORTS = ["http3", "http2"] as const;
export type TestTransport = (typeof TRANSPORTS)[number];

/** A certificate directory shared by the tests of one file (generation is cheap, but why repeat). */
const certDir = mkdtempSync(join(tmpdir(), "wiregate-relay-test-"));

export interface Echo {
  socket: Socket;
  port: number;
  received: number;
  close(): Promise<void>;
}

/** UDP echo on 127.0.0.1: sends every datagram back to where it came from. */
export async function startEcho(port = 0): Promise<Echo> {
  const socket = createSocket("udp4");
  const echo: Echo = {
    socket,
    port: 0,
    received: 0,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on("message", (msg, from) => {
    echo.received++;
    socket.send(msg, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(port, "127.0.0.1", () => resolve()));
  echo.port = socket.address().port;
  return echo;
}

/**
 * Starts a relay with `config`. One asked for HTTP/3 that did not get it fails loudly, never skips
 * (a missing add-on). DBG=1 in the environment logs at debug level.
 */
export async function startRelayWith(
  config: RelayConfig,
  options: Omit<RelayOptions, "config"> = {},
): Promise<{ relay: Relay; address: RelayAddress }> {
  const relay = new Relay({
    config,
    ...(process.env.DBG ? { logger: createLogger("debug") } : {}),
    ...options,
  });
  const address = await relay.start();
  if (config.http3 && !address.transports.includes("http3")) {
    await relay.stop(0);
    throw new Error(`HTTP/3 did not come up: ${address.http3Missing}`);
  }
  return { relay, address };
}

/** A relay on loopback with the test token, forwarding the upstream "echo" to `upstreamPort`. */
export async function startRelay(
  upstreamPort: number,
  overrides: Partial<Omit<RelayConfig, "limits">> & { limits?: Partial<Limits> } = {},
  options: { clock?: () => number; rss?: () => number } = {},
): Promise<{ relay: Relay; address: RelayAddress }> {
  const config = mergeConfig(DEFAULT_CONFIG, {
    port: 0,
    opsPort: 0,
    http3: true,
    certDir,
    tokens: [TOKEN],
    upstreams: [{ name: "echo", host: "127.0.0.1", port: upstreamPort }],
    ...overrides,
  });
  return startRelayWith(config, options);
}

export async function connect(
  address: RelayAddress,
  options: {
    token?: string | undefined;
    upstream?: string;
    onError?: Parameters<typeof connectRelay>[0]["onError"];
    /** Takes every datagram as it arrives, instead of the connection's bounded iterable. */
    onDatagram?: (datagram: Uint8Array) => void;
    /** HTTP/3 uses the add-on's native client; HTTP/2 forces the library's reliable mode. */
    transport?: TestTransport;
    carriage?: CarriageChoice;
  } = {},
): Promise<RelayConnection> {
  await quicheLoaded;
  return connectRelay({
    WebTransport: WebTransport as unknown as WebTransportConstructor,
    url: address.url,
    token: "token" in options ? options.token : TOKEN,
    upstream: options.upstream ?? "echo",
    serverCertificateHashes: [{ algorithm: "sha-256", value: address.certificateSha256 }],
    transportOptions:
      (options.transport ?? "http2") === "http2"
        ? { forceReliable: true }
        : { requireUnreliable: true },
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.onDatagram ? { onDatagram: options.onDatagram } : {}),
    ...(options.carriage ? { carriage: options.carriage } : {}),
  });
}

/** A well-formed WireGuard transport message (type 4) of `size` bytes, tagged with `seq`. */
export function transportMessage(seq: number, size = 64): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes[0] = 4;
  new DataView(bytes.buffer).setUint32(8, seq, true);
  return bytes;
}

export function seqOf(datagram: Uint8Array): number {
  return new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength).getUint32(8, true);
}

export async function metricsText(address: RelayAddress): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${address.opsPort}/metrics`);
  return response.text();
}

/** Value of one Prometheus sample, e.g. metric('wiregate_relay_drops_total{direction="to_upstream",reason="malformed"}'). */
export function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("waitFor: timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends one datagram and waits for its echo; returns the round trip in ms. */
export async function roundTrip(
  conn: RelayConnection,
  iterator: AsyncIterator<Uint8Array>,
  seq: number,
): Promise<number> {
  const start = performance.now();
  conn.send(transportMessage(seq));
  for (;;) {
    const next = await iterator.next();
    if (next.done) throw new Error("session ended");
    if (seqOf(next.value) === seq) return performance.now() - start;
  }
}
