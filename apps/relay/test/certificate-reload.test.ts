/**
 * A new certificate under open sessions: HTTP/2 (and WebSocket) keep theirs and new connections
 * get the new certificate; HTTP/3 sessions are closed (the add-on cannot swap) and a new HTTP/3
 * server on the same port serves the new one.
 */

import { X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateDevCertificate } from "../src/dev-cert.js";
import type { RelayAddress } from "../src/relay.js";
import {
  connect,
  type Echo,
  metricsText,
  roundTrip,
  sample,
  startEcho,
  startRelay,
} from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "wiregate-reload-"));
const certFile = join(dir, "cert.pem");
const keyFile = join(dir, "key.pem");

function writePair(keyMode = 0o600): X509Certificate {
  const material = generateDevCertificate(["localhost", "127.0.0.1"]);
  writeFileSync(keyFile, material.keyPem);
  chmodSync(keyFile, keyMode);
  writeFileSync(certFile, material.certPem);
  return new X509Certificate(material.certPem);
}

/** The certificate a new TLS connection to the relay is given. */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false },
      () => {
        resolve(socket.getPeerX509Certificate()!);
        socket.destroy();
      },
    );
    socket.on("error", reject);
  });
}

let echo: Echo;
beforeAll(async () => {
  echo = await startEcho();
});
afterAll(() => echo.close());

describe("certificate reload under open sessions", () => {
  it("HTTP/2 sessions keep forwarding; HTTP/3 sessions are closed and HTTP/3 serves the new one", async () => {
    const first = writePair();
    const { relay, address } = await startRelay(echo.port, { certFile, keyFile });
    try {
      expect((await servedCertificate(address.port)).serialNumber).toBe(first.serialNumber);
      const overHttp2 = await connect(address, { transport: "http2" });
      const overHttp3 = await connect(address, { transport: "http3" });
      const datagrams = overHttp2.datagrams[Symbol.asyncIterator]();
      await roundTrip(overHttp2, datagrams, 1);

      const second = writePair();
      await relay.certificates!.reload();

      expect((await servedCertificate(address.port)).serialNumber).toBe(second.serialNumber);
      // The HTTP/2 session did not notice: same connection, same session, still forwarding.
      await roundTrip(overHttp2, datagrams, 2);
      expect(relay.sessions.size).toBe(1);
      // The HTTP/3 session was closed by the relay; a new one reaches the new server.
      await overHttp3.closed;
      const renewed: RelayAddress = { ...address, certificateSha256: relay.certificate!.sha256 };
      const again = await connect(renewed, { transport: "http3" });
      const iterator = again.datagrams[Symbol.asyncIterator]();
      await roundTrip(again, iterator, 3);
      again.close();
      overHttp2.close();
      // A key replaced by one open to others is refused, as at start; the old pair stays.
      const served = relay.certificate!.sha256;
      writePair(0o644);
      await expect(relay.certificates!.reload()).rejects.toThrow(/chmod 600/);
      expect(relay.certificate!.sha256).toEqual(served);
      const metrics = await metricsText(address);
      expect(sample(metrics, "wiregate_relay_certificate_expiry_days")).toBeGreaterThan(12);
    } finally {
      await relay.stop(0);
    }
  });
});
