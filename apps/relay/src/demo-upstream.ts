/**
 * The relay CLI's embedded demo peer: on a worker thread of its own (demo-peer-thread.ts), on
 * loopback, registered as the upstream "demo" with itself as the address assigner. Should the
 * thread die, the upstream goes away with it and the relay goes on relaying for the others.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { generatePrivateKey, keyToBase64, nobleCrypto } from "@wiregate/core";
import { DemoPeerThread } from "./demo-peer-thread.js";
import { writeSecret } from "./dev-cert.js";
import type { Logger } from "./logger.js";
import type { Relay } from "./relay.js";

export const DEMO_UPSTREAM = "demo";

/**
 * Starts the demo peer's thread, registers it, and writes a ready client configuration to
 * `demo-client.conf` in `dir`. `entry` replaces the worker script (tests).
 */
export async function startDemoUpstream(
  relay: Relay,
  log: Logger,
  dir: string,
  entry?: URL,
): Promise<DemoPeerThread> {
  const demo = await DemoPeerThread.start({
    // `at` (ms since the epoch): the engine's `time` is monotonic and replaces the log line's own
    // time field, so `at` is what makes these lines readable by `wiregate-replay --log`.
    onEvent: (event) => log.debug("demo peer", { ...event }),
    onExit: (error) => {
      relay.upstreams.unregister(DEMO_UPSTREAM);
      log.error("demo peer failed: upstream removed", {
        upstream: DEMO_UPSTREAM,
        error: error.message,
      });
    },
    ...(entry ? { entry } : {}),
  });
  relay.upstreams.register(
    { name: DEMO_UPSTREAM, host: demo.host, port: demo.port, publicKey: demo.publicKey },
    demo,
  );
  // A throwaway client key pair, so a ready configuration exists (the demo peer admits any key;
  // the web client generates its own). It holds a private key: written to an owner-only file,
  // never to the log.
  const clientKey = generatePrivateKey((n) => new Uint8Array(randomBytes(n)));
  const clientConfigFile = resolve(join(dir, "demo-client.conf"));
  await mkdir(dir, { recursive: true });
  const clientConfig = await demo.clientConfig({
    privateKey: keyToBase64(clientKey),
    publicKey: nobleCrypto.x25519Public(clientKey),
  });
  await writeSecret(clientConfigFile, clientConfig);
  log.info("demo peer ready", {
    upstream: DEMO_UPSTREAM,
    publicKey: demo.publicKey,
    thread: demo.threadId,
    clientConfigFile,
  });
  return demo;
}
