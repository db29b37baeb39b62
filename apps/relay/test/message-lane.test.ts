/**
 * The message stream's backlog bound (MESSAGE_LANE_BACKLOG, 64 KiB) against the relay process over
 * HTTP/3, where WireGuard messages above the session's datagram limit travel on that reliable
 * stream (and with the stream carriage every message does): an upstream blasts messages toward a
 * client that stopped reading (its process is stopped). The stream's flow control holds them back;
 * the relay must drop beyond its backlog (counted as `stream-backlog`) instead of queueing them,
 * and another session keeps working meanwhile.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { expect, it } from "vitest";
import { MESSAGE_LANE_BACKLOG } from "../src/message-lane.js";
import {
  connect,
  metricsText,
  roundTrip,
  sample,
  TOKEN,
  transportMessage,
  waitFor,
} from "./helpers.js";
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

it("with the stream carriage: bounded toward a stopped client, and another session unaffected", async () => {
  const blaster = createSocket("udp4");
  await new Promise<void>((resolve) => blaster.bind(0, "127.0.0.1", () => resolve()));
  running.push({ stop: () => blaster.close() });
  // An echo for the other session, beside the blaster.
  const echo = createSocket("udp4");
  echo.on("message", (message, from) => echo.send(message, from.port, from.address));
  await new Promise<void>((resolve) => echo.bind(0, "127.0.0.1", () => resolve()));
  running.push({ stop: () => echo.close() });
  const relay = await spawnRelay([
    `--upstream=blast=127.0.0.1:${blaster.address().port}`,
    `--upstream=other=127.0.0.1:${echo.address().port}`,
    "--rate=1000000",
    "--bandwidth=1000000000",
  ]);
  running.push(relay);
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
      "stream",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  running.push({ stop: () => client.kill("SIGKILL") });
  const output = lines(client);
  const welcome = JSON.parse(await lineMatching(output, (l) => l.includes('"welcome"')));
  expect(welcome).toMatchObject({ transport: "http3", carriage: "stream" });
  let target: number | undefined;
  blaster.once("message", (_, from) => {
    target = from.port;
  });
  await lineMatching(output, (l) => l.includes('"sent"'));
  await waitFor(() => target !== undefined, 10_000);
  client.kill("SIGSTOP");

  // The other session: its own client, on the stream carriage too.
  const other = await connect(relay.address, {
    transport: "http3",
    upstream: "other",
    carriage: "stream",
  });
  const iterator = other.datagrams[Symbol.asyncIterator]();

  const before = relay.rss();
  // Messages that fit a datagram: with the stream carriage they take the stream all the same. Of
  // a kilobyte, not smaller: the 16 MiB below count only what the relay itself read (what its
  // socket overflowed with is dropped by the kernel), so the relay's cost per message sets how
  // long this takes, and on a starved machine 175,000 messages of 96 bytes did not fit in 90 s.
  const SMALL = 1_000;
  expect(SMALL).toBeLessThanOrEqual(welcome.datagramSize);
  const message = transportMessage(0, SMALL);
  let blasting = true;
  void (async () => {
    while (blasting) {
      for (let i = 0; i < 64; i++) blaster.send(message, target!, "127.0.0.1", ignore);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  let answered = 0;
  try {
    // 16 MiB toward the stopped client, while the other session's round trips go on.
    await waitFor(async () => {
      await roundTrip(other, iterator, answered);
      answered++;
      const text = await metricsText(relay.address);
      return sample(text, STREAM_BACKLOG) * SMALL + sample(text, TO_CLIENT_BYTES) >= 16 * MiB;
    }, 90_000);
  } finally {
    blasting = false;
  }
  const grown = relay.rss() - before;
  const text = await metricsText(relay.address);
  const passed = sample(text, TO_CLIENT_BYTES);
  console.info(
    `stream carriage backlog: RSS +${(grown / MiB).toFixed(1)} MiB; ${(passed / 1024).toFixed(0)} KiB ` +
      `passed toward the clients, ${sample(text, STREAM_BACKLOG)} messages dropped; ` +
      `${answered} round trips of the other session answered meanwhile`,
  );
  expect(passed).toBeLessThan(1 * MiB);
  expect(sample(text, STREAM_BACKLOG)).toBeGreaterThan((15 * MiB) / SMALL);
  expect(grown).toBeLessThan(48 * MiB);
  // Every round trip of the other session was answered (roundTrip waits for its echo).
  expect(answered).toBeGreaterThan(0);
  const stats = await other.stats();
  expect(stats.drops["stream-backlog"] ?? 0).toBe(0);
  other.close();
}, 120_000);
