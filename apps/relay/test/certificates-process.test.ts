/**
 * Certificates of a relay process. It gets one from Pebble (Let's Encrypt's ACME test server) with the
 * flags an operator would use, by TLS-ALPN-01 on its own TLS port and by HTTP-01; keeps the
 * account key and certificate owner-only; reports the days to expiry; and after a restart serves
 * the stored certificate without asking the CA again. With --cert/--key, it serves new files
 * on SIGHUP and when they change on disk.
 */

import { X509Certificate } from "node:crypto";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateDevCertificate } from "../src/dev-cert.js";
import { metricsText, sample } from "./helpers.js";
import { freeTcpUdpPort, type Pebble, servedSerial, startPebble } from "./pebble.js";
import { lineMatching, type RelayProcess, spawnRelay } from "./relay-process.js";

const modeOf = (file: string) => statSync(file).mode & 0o777;
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function pebbleFor(ports: { tlsPort: number; httpPort: number }): Promise<Pebble> {
  const pebble = await startPebble(ports);
  cleanup.push(() => pebble.stop());
  return pebble;
}

async function acmeRelay(port: number, pebble: Pebble, acmeDir: string, extra: string[] = []) {
  const relay = await spawnRelay([
    `--port=${port}`,
    "--acme-domain=localhost",
    "--acme-email=ops@example.org",
    `--acme-directory=${pebble.directory}`,
    `--acme-ca-file=${pebble.caFile}`,
    `--acme-dir=${acmeDir}`,
    ...extra,
  ]);
  cleanup.push(() => relay.stop());
  return relay;
}

/** Waits for the log line saying which certificate is now served, and returns it. */
async function certificateInUse(relay: RelayProcess): Promise<Record<string, string>> {
  const line = await lineMatching(relay.lines, (l) => l.includes('"certificate in use"'));
  return JSON.parse(line);
}

/** GET over HTTPS to the relay, trusting only `root`, for the name localhost. */
function fetchTrusted(port: number, path: string, root: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, servername: "localhost", ca: root }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

describe("ACME against Pebble, as a process", () => {
  it("TLS-ALPN-01 on the relay's port: a trusted certificate, 0600 files, expiry metric, reuse after restart", async () => {
    const port = await freeTcpUdpPort();
    const pebble = await pebbleFor({ tlsPort: port, httpPort: 1 });
    const acmeDir = mkdtempSync(join(tmpdir(), "wiregate-acme-"));
    const relay = await acmeRelay(port, pebble, acmeDir);
    const issued = await certificateInUse(relay);
    expect(issued.why).toBe("issued by the ACME CA");
    const root = await pebble.root();
    const serial = await servedSerial(port, root);

    expect(modeOf(acmeDir)).toBe(0o700);
    for (const file of ["account.key", "key.pem", "cert.pem"])
      expect(modeOf(join(acmeDir, file)), file).toBe(0o600);
    const metrics = await metricsText(relay.address);
    // Pebble issues for five years.
    expect(sample(metrics, "wiregate_relay_certificate_expiry_days")).toBeGreaterThan(1800);
    expect(sample(metrics, 'wiregate_relay_certificate_renewals_total{result="success"}')).toBe(1);
    // The page must not pin a certificate that renewal replaces: no hash for it.
    expect(JSON.parse(await fetchTrusted(port, "/wiregate.json", root))).toMatchObject({
      certificateSha256: "",
    });

    relay.child.kill("SIGTERM");
    await new Promise((resolve) => relay.child.once("exit", resolve));
    const again = await acmeRelay(port, pebble, acmeDir);
    // Served from the start, before any request to the CA.
    expect(await servedSerial(port, root)).toBe(serial);
    const restarted = await metricsText(again.address);
    expect(sample(restarted, 'wiregate_relay_certificate_renewals_total{result="success"}')).toBe(
      0,
    );
  });

  it("HTTP-01 on --acme-http-port", async () => {
    const [port, httpPort] = [await freeTcpUdpPort(), await freeTcpUdpPort()];
    const pebble = await pebbleFor({ tlsPort: 1, httpPort });
    const acmeDir = mkdtempSync(join(tmpdir(), "wiregate-acme-"));
    const relay = await acmeRelay(port, pebble, acmeDir, [`--acme-http-port=${httpPort}`]);
    expect((await certificateInUse(relay)).why).toBe("issued by the ACME CA");
    await servedSerial(port, await pebble.root());
  });
});

describe("certificate files, as a process", () => {
  it("serves new --cert/--key files on SIGHUP, and when they change on disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wiregate-cert-files-"));
    const [certFile, keyFile] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    const writePair = () => {
      const material = generateDevCertificate(["localhost"]);
      writeFileSync(keyFile, material.keyPem, { mode: 0o600 });
      writeFileSync(certFile, material.certPem);
      return material.certPem;
    };
    writePair();
    const relay = await spawnRelay([`--cert=${certFile}`, `--key=${keyFile}`]);
    cleanup.push(() => relay.stop());
    const { port } = relay.address;

    const second = writePair();
    relay.child.kill("SIGHUP");
    expect((await certificateInUse(relay)).why).toBe("reloaded from files");
    expect(await servedSerial(port, second)).toBe(new X509Certificate(second).serialNumber);

    // No signal: the relay notices the files changed (it checks every few seconds).
    const third = writePair();
    expect((await certificateInUse(relay)).why).toBe("reloaded from files");
    expect(await servedSerial(port, third)).toBe(new X509Certificate(third).serialNumber);
  }, 60_000);
});
