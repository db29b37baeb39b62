/**
 * The message stream's backlog bound (MESSAGE_LANE_BACKLOG, 64 KiB) against the relay process over
 * HTTP/3, where WireGuard messages above the session's datagram limit travel on that reliable
 * stream: an upstream blasts 1,400-byte messages toward a client that stopped reading (its process
 * is stopped). The stream's flow control holds them back; the relay must drop beyond its backlog
 * (counted as `stream-backlog`) instead of queueing them.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { expect, it } from "vitest";
import { MESSAGE_LANE_BACKLOG } from "../src/message-lane.js";
import { metricsText, sample, TOKEN, transportMessage, waitFor } from "./helpers.js";
import { lineMatching, lines, MiB, relayProcesses, root, spawnRelay } from "./relay-process.js";

const { running } = relayProcesses();
const ignore = () => {};
const STREAM_BACKLOG = 'wiregate_relay_drops_total{direction="to_client",reason="stream-backlog"}';
const TO_CLIENT_BYTES = 'wiregate_relay_bytes_total{direction="to_client"}';
const MESSAGE = 1400;

it("drops beyond 64 KiB of message-stream backlog toward a client that stopped reading", async () => {
  const blaster = createSocket("udp4");
  await new Promise<void>((resolve) => blaster.bind(0, "127.0.0.1", () => resolve()));
  running.push({ stop: () => blaster.close() });
  const relay = await spawnRelay([
    `--upstream=blast=127.0.0.1:${blaster.address().port}`,
    "--rate=1000000",
    "--bandwidth=1000000000",
  ]);
  running.push(relay);
  // An honest client over HTTP/3 (fixtures/client.mjs): its welcome, one message so the blaster
  // learns the session's socket, then it is stopped and reads nothing more.
  const client: ChildProcess = spawn(
    process.execPath,
    [
      join(root, "test/fixtures/client.mjs"),
      relay.address.url,
      relay.hashHex,
      TOKEN,
      "blast",
      "once",
      "0",
      "http3",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  running.push({ stop: () => client.kill("SIGKILL") });
  const output = lines(client);
  const welcome = JSON.parse(await lineMatching(output, (l) => l.includes('"welcome"')));
  expect(welcome.transport).toBe("http3");
  // The messages below take the stream: they are larger than the session's datagrams.
  expect(welcome.datagramSize).toBeLessThan(MESSAGE);
  expect(welcome.messageSize).toBeGreaterThanOrEqual(MESSAGE);
  let target: number | undefined;
  blaster.once("message", (_, from) => {
    target = from.port;
  });
  await lineMatching(output, (l) => l.includes('"sent"'));
  await waitFor(() => target !== undefined, 10_000);
  client.kill("SIGSTOP");

  const before = relay.rss();
  const message = transportMessage(0, MESSAGE);
  let blasting = true;
  void (async () => {
    while (blasting) {
      for (let i = 0; i < 64; i++) blaster.send(message, target!, "127.0.0.1", ignore);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  try {
    // 64 MiB toward the stopped client.
    await waitFor(async () => {
      const text = await metricsText(relay.address);
      return sample(text, STREAM_BACKLOG) * MESSAGE + sample(text, TO_CLIENT_BYTES) >= 64 * MiB;
    }, 90_000);
  } finally {
    blasting = false;
  }
  const grown = relay.rss() - before;
  const text = await metricsText(relay.address);
  const passed = sample(text, TO_CLIENT_BYTES);
  console.info(
    `message-stream backlog: RSS ${(before / MiB).toFixed(0)} MiB, +${(grown / MiB).toFixed(1)} MiB; ` +
      `${(passed / 1024).toFixed(0)} KiB passed toward the client, ${sample(text, STREAM_BACKLOG)} messages dropped`,
  );
  // What passed is what the client's stream window took before it stopped, plus the backlog.
  expect(passed).toBeLessThan(1 * MiB);
  expect(sample(text, STREAM_BACKLOG)).toBeGreaterThan((60 * MiB) / MESSAGE);
  expect(grown).toBeLessThan(48 * MiB);
  expect(MESSAGE_LANE_BACKLOG).toBe(64 * 1024);
}, 120_000);
