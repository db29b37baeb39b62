#!/usr/bin/env node
/** wiregate-relay: loads the configuration, starts the relay, drains on SIGTERM/SIGINT. */

import { format } from "node:util";
import { pinnedHash } from "./certificates.js";
import { helpText, loadConfig } from "./cli-options.js";
import { hexHash } from "./dev-cert.js";
import { readFleetFile } from "./fleet-file.js";
import { createLogger } from "./logger.js";

async function main(): Promise<number> {
  const loaded = await loadConfig(process.argv.slice(2), process.env);
  if (!loaded.ok) {
    process.stderr.write(
      `wiregate-relay: invalid configuration\n  ${loaded.errors.join("\n  ")}\n`,
    );
    return 2;
  }
  if (loaded.help) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  const { config } = loaded;
  const fleetAtStart = config.fleetFile === null ? [] : await readFleetFile(config.fleetFile);
  if (typeof fleetAtStart === "string") {
    process.stderr.write(`wiregate-relay: invalid configuration\n  ${fleetAtStart}\n`);
    return 2;
  }
  let fleet = fleetAtStart;
  // A closed stdout (the reader went away) must not crash the relay.
  process.stdout.on("error", () => {});
  const log = createLogger(config.logLevel);
  // The WebTransport library prints to the console (e.g. when the HTTP/3 add-on is absent):
  // keep stdout one JSON object per line.
  console.log = (...args: unknown[]) => log.debug("library", { text: format(...args) });
  console.info = console.log;
  console.warn = (...args: unknown[]) => log.debug("library", { text: format(...args) });
  console.error = console.warn;

  const { Relay } = await import("./relay.js");
  const { openCapture } = await import("./capture.js");
  const capture = config.capture
    ? await openCapture(config.capture, config.captureRotateBytes, log, config.captureKeepFiles)
    : undefined;
  const relay = new Relay({ config, logger: log, capture });
  // From the start: a SIGHUP's default action would end the relay.
  process.on("SIGHUP", () => {
    log.info("SIGHUP: reloading the certificate");
    relay.certificates
      ?.reload()
      .catch((error: unknown) =>
        log.error("certificate reload failed", { error: (error as Error).message }),
      );
    // The deny list (ending the sessions it revokes) and a JWKS file; failures are logged there.
    void relay.identity?.reload();
  });
  const { DEMO_UPSTREAM, startDemoUpstream } = await import("./demo-upstream.js");
  const { DEMO_DNS } = await import("./demo-dns.js");
  // Should the demo peer's thread die, the page's defaults stop naming it.
  let demoGone = () => {};
  const demo = config.demo
    ? await startDemoUpstream(relay, log, config.certDir, {
        thread: config.demoThread,
        onGone: () => demoGone(),
      })
    : undefined;
  const address = await relay.start();
  // Defaults for the web client served from this origin (it reads ./wiregate.json if present).
  const publishDefaults = () => {
    const live = demo && relay.upstreams.get(DEMO_UPSTREAM) ? demo : undefined;
    relay.publish("/wiregate.json", {
      relay: address.url,
      upstream: live ? DEMO_UPSTREAM : (relay.upstreams.names()[0] ?? ""),
      peerPublicKey: live?.publicKey ?? "",
      // The demo peer answers DNS for demo.wiregate: generated configs name it in their DNS line.
      dns: live ? DEMO_DNS : "",
      certificateSha256: relay.certificates ? pinnedHash(relay.certificates) : "",
      // For a page served by the loopback plain-HTTP listener: its WebSocket fallback (ws://).
      ...(address.localHttpUrl
        ? { websocket: new URL(config.path, address.localHttpUrl.replace(/^http/, "ws")).href }
        : {}),
      // A public relay's Browse origins (https://<label>.DOMAIN/; docs/deploy.md, "Browse").
      ...(config.browseDomain ? { browseDomain: config.browseDomain } : {}),
      // The fleet the page may measure and fail over between (docs/deploy.md, "Many relays").
      ...(fleet.length > 0 ? { relays: fleet } : {}),
    });
  };
  demoGone = publishDefaults;
  publishDefaults();
  const fleetFile = config.fleetFile;
  if (fleetFile !== null) {
    process.on("SIGHUP", () => {
      void readFleetFile(fleetFile).then((read) => {
        if (typeof read === "string") {
          log.error("fleet file reload failed, the list served is unchanged", { error: read });
          return;
        }
        fleet = read;
        publishDefaults();
        log.info("fleet file reloaded", { relays: read.map((r) => r.name) });
      });
    });
  }
  relay.certificates?.onChange(publishDefaults);
  if (relay.openMode) {
    log.warn("open mode: no tokens configured, any local client may connect", {
      host: config.host,
    });
  }
  log.info("relay listening", {
    url: address.url,
    webClient: config.staticDir ? (address.localPageUrl ?? new URL("/", address.url).href) : null,
    transports: address.transports,
    http3: address.http3Missing ?? "on",
    certificateSha256: hexHash(address.certificateSha256),
    certificateValidTo: relay.certificate?.validTo.toISOString(),
    certificateGenerated: relay.certificate?.generated,
    ops: address.opsPort === null ? null : `http://${config.opsHost}:${address.opsPort}`,
    localHttp: address.localHttpUrl ?? null,
    upstreams: relay.upstreams.names(),
    demoPeerPublicKey: demo?.publicKey,
    // The thread the demo peer runs on (0: the relay's own, the default; see --demo-thread).
    demoPeerThread: demo?.threadId,
    staticDir: config.staticDir,
    capture: config.capture,
    // Asked and got per session (the kernel doubles the request and caps it at net.core.rmem_max).
    upstreamReceiveBuffer: address.upstreamReceiveBuffer,
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("draining", { signal, sessions: relay.sessions.size });
      void relay
        .stop()
        .then(() => capture?.close())
        .then(() => demo?.close())
        .then(() => {
          log.info("stopped");
          resolve(0);
        });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`wiregate-relay: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);
