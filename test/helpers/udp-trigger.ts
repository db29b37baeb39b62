/**
 * A tiny UDP sender/receiver running inside a namespace (a Node child process), fired at an exact
 * instant of the shared monotonic clock. Two triggers (or a trigger and the test process) fired at
 * the same instant send at the same moment to within tens of microseconds — far closer than a
 * process spawned per shot, whose start-up jitter is milliseconds. Used to make WireGuard peers
 * start their handshakes simultaneously.
 *
 * Timestamps are `process.hrtime.bigint()` values (CLOCK_MONOTONIC, ns). Network namespaces share
 * that clock, so they compare directly with the test process's own `process.hrtime.bigint()`.
 */
import { createInterface } from "node:readline";
import type { Namespace } from "./namespace.js";

export interface UdpTrigger {
  /** Sends one datagram when the monotonic clock reaches `at` (ns). */
  fire(at: bigint): void;
  /** When the datagram was handed to the socket. */
  readonly sent: Promise<bigint>;
  /** When the first datagram arrived on the trigger's socket. */
  readonly received: Promise<bigint>;
  /** Kills the process (the namespace's destroy() would too). */
  stop(): void;
}

export interface UdpTriggerOptions {
  /** Address (inside the namespace) and port to bind, e.g. the tunnel address. */
  bind: { address: string; port: number };
  /** Where the datagram goes, e.g. the far peer's tunnel address. */
  target: { address: string; port: number };
}

// Runs as `node -e`: argv = [node, bindAddress, bindPort, targetAddress, targetPort].
// Sleeps until 3 ms before the instant, then spins on the clock for precision.
const SCRIPT = `
const dgram = require("node:dgram");
const [bindAddress, bindPort, targetAddress, targetPort] = process.argv.slice(1);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
const socket = dgram.createSocket(bindAddress.includes(":") ? "udp6" : "udp4");
let heard = false;
socket.on("message", () => {
  if (heard) return;
  heard = true;
  say({ received: String(process.hrtime.bigint()) });
});
socket.bind(Number(bindPort), bindAddress, () => say({ ready: true }));
let input = "";
process.stdin.setEncoding("utf8").on("data", (chunk) => {
  input += chunk;
  for (let i = input.indexOf("\\n"); i >= 0; i = input.indexOf("\\n")) {
    const at = BigInt(input.slice(0, i));
    input = input.slice(i + 1);
    const sleepMs = Number(at - process.hrtime.bigint()) / 1e6 - 3;
    setTimeout(() => {
      while (process.hrtime.bigint() < at) {}
      const now = process.hrtime.bigint();
      socket.send(Buffer.from("wiregate trigger"), Number(targetPort), targetAddress);
      say({ sent: String(now) });
    }, Math.max(0, sleepMs));
  }
});
`;

/** Starts the trigger process in `ns`; resolves once its socket is bound. */
export async function startUdpTrigger(
  ns: Namespace,
  options: UdpTriggerOptions,
): Promise<UdpTrigger> {
  const child = ns.spawn(
    process.execPath,
    [
      "-e",
      SCRIPT,
      options.bind.address,
      String(options.bind.port),
      options.target.address,
      String(options.target.port),
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const settle = () => {
    let resolve!: (at: bigint) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<bigint>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {}); // awaited by the caller or never needed
    return { promise, resolve, reject };
  };
  const ready = settle();
  const sent = settle();
  const received = settle();
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const message = JSON.parse(line) as { ready?: true; sent?: string; received?: string };
    if (message.ready) ready.resolve(0n);
    if (message.sent !== undefined) sent.resolve(BigInt(message.sent));
    if (message.received !== undefined) received.resolve(BigInt(message.received));
  });
  child.once("exit", (code, signal) => {
    const error = new Error(`UDP trigger exited (${code ?? signal}): ${stderr.trim()}`);
    for (const s of [ready, sent, received]) s.reject(error);
  });
  child.stdin?.on("error", () => {});
  await ready.promise;
  return {
    fire: (at) => {
      child.stdin?.write(`${at}\n`);
    },
    sent: sent.promise,
    received: received.promise,
    stop: () => {
      child.kill("SIGKILL");
    },
  };
}
