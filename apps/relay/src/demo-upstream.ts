/**
 * The relay CLI's embedded demo peer, on loopback, registered as the upstream "demo" with itself as
 * the address assigner. It runs on the relay's thread (the default: the fastest tunnel on a machine
 * with few cores, docs/performance.md) or on a worker thread of its own (demo-peer-thread.ts), where
 * its work never delays relaying; should that thread die, the upstream goes away with it and the
 * relay goes on relaying for the others.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { generatePrivateKey, keyToBase64, nobleCrypto } from "@wiregate/core";
import { DemoPeer } from "./demo-peer.js";
import { DemoPeerThread } from "./demo-peer-thread.js";
import { writeSecret } from "./dev-cert.js";
import type { Logger } from "./logger.js";
import type { Relay } from "./relay.js";

export const DEMO_UPSTREAM = "demo";

export interface DemoUpstreamOptions {
  /** On a worker thread of its own rather than the relay's (`--demo-thread`). */
  thread?: boolean;
  /** Replaces the worker script (tests); implies `thread`. */
  entry?: URL;
  /** Called after the upstream was removed because its thread died. */
  onGone?: () => void;
}

/** The demo peer as the CLI holds it, wherever it runs. */
export type DemoUpstream = DemoPeer | DemoPeerThread;

/**
 * Starts the demo peer, registers it, and writes a ready client configuration to
 * `demo-client.conf` in `dir`.
 */
export async function startDemoUpstream(
  relay: Relay,
  log: Logger,
  dir: string,
  options: DemoUpstreamOptions = {},
): Promise<DemoUpstream> {
  // The trace events carry `at` (ms since the epoch): the engine's `time` is monotonic and
  // replaces the log line's own time field, so `at` is what makes these lines readable by
  // `wiregate-replay --log`.
  const demo: DemoUpstream =
    options.thread || options.entry
      ? await DemoPeerThread.start({
          onEvent: (event) => log.debug("demo peer", { ...event }),
          onExit: (error) => {
            relay.upstreams.unregister(DEMO_UPSTREAM);
            const sessionsClosed = relay.upstreamGone(DEMO_UPSTREAM, "the demo peer failed");
            log.error("demo peer failed: upstream removed", {
              upstream: DEMO_UPSTREAM,
              error: error.message,
              sessionsClosed,
            });
            options.onGone?.();
          },
          ...(options.entry ? { entry: options.entry } : {}),
        })
      : await DemoPeer.start({
          onEvent: (event) => log.debug("demo peer", { ...event, at: Date.now() }),
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
