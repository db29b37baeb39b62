/**
 * Pebble, Let's Encrypt's ACME test server (Debian package "pebble"), as the CA of a test. Its
 * validation authority checks challenges on the ports given here (the relay's), its roots are
 * new on every start and fetched from its management listener.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { get } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { generateDevCertificate } from "../src/dev-cert.js";

export const PEBBLE_PATH = "/usr/bin/pebble";

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** PEM file to trust for the directory's HTTPS (Pebble's own listener certificate). */
  caFile: string;
  /** PEM of the root that signs the certificates Pebble issues. */
  root(): Promise<string>;
  /** Pebble's output so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** A port number free on TCP and UDP on 127.0.0.1 right now (the relay serves both). */
export async function freeTcpUdpPort(): Promise<number> {
  for (;;) {
    const tcp = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(0, "127.0.0.1", () => resolve((tcp.address() as { port: number }).port));
    });
    const udp = createSocket("udp4");
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once("error", () => resolve(false));
      udp.bind(port, "127.0.0.1", () => resolve(true));
    });
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (udpFree) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (udpFree) return port;
  }
}

function fetchText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`)),
      );
    }).on("error", reject);
  });
}

/**
 * Starts Pebble. `tlsPort`/`httpPort`: where its validation authority reaches the relay for
 * TLS-ALPN-01 and HTTP-01. No sleeps (PEBBLE_VA_NOSLEEP) and no refused nonces, so issuance takes
 * a fraction of a second and does not depend on chance.
 */
export async function startPebble(options: { tlsPort: number; httpPort: number }): Promise<Pebble> {
  if (!existsSync(PEBBLE_PATH)) {
    throw new Error(`pebble not found at ${PEBBLE_PATH}: install the Debian package "pebble"`);
  }
  const dir = mkdtempSync(join(tmpdir(), "wiregate-pebble-"));
  const listener = generateDevCertificate(["localhost", "127.0.0.1"]);
  const caFile = join(dir, "listener.pem");
  writeFileSync(caFile, listener.certPem);
  writeFileSync(join(dir, "listener-key.pem"), listener.keyPem, { mode: 0o600 });
  const [acmePort, managementPort] = [await freeTcpUdpPort(), await freeTcpUdpPort()];
  writeFileSync(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: caFile,
        privateKey: join(dir, "listener-key.pem"),
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child: ChildProcess = spawn(PEBBLE_PATH, ["-config", join(dir, "pebble.json")], {
    env: {
      ...process.env,
      PEBBLE_VA_NOSLEEP: "1",
      PEBBLE_WFE_NONCEREJECT: "0",
      // Every order is validated afresh, so a forced renewal answers a challenge every time.
      PEBBLE_AUTHZREUSE: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("ACME directory available at")) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`pebble exited (${code}):\n${output}`)));
  });
  await ready;
  const management = `https://127.0.0.1:${managementPort}`;
  return {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caFile,
    root: () => fetchText(`${management}/roots/0`, listener.certPem),
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The served certificate's serial, verified against `root` for the name localhost. */
export function servedSerial(port: number, root: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { port, host: "127.0.0.1", servername: "localhost", ca: root },
      () => {
        resolve(socket.getPeerX509Certificate()!.serialNumber);
        socket.destroy();
      },
    );
    socket.on("error", reject);
  });
}
