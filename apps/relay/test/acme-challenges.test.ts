/**
 * ACME challenges on a real TLS port and a real HTTP port: a TLS-ALPN-01 validator gets the
 * challenge certificate, every other client the server's own, and HTTP-01 answers its token only.
 */

import { request } from "node:http";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACME_TLS_ALPN, AcmeChallenges, portOf } from "../src/acme-challenges.js";
import { generateDevCertificate } from "../src/dev-cert.js";

const own = generateDevCertificate(["relay.test"]);
const challenge = generateDevCertificate(["challenge.test"]);
const challenges = new AcmeChallenges();
let server: Http2SecureServer;
let port: number;

beforeAll(async () => {
  server = createSecureServer({ cert: own.certPem, key: own.keyPem, allowHTTP1: true });
  challenges.attachAlpn(server);
  server.on("stream", (stream) => stream.respond({ ":status": 204 }, { endStream: true }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The protocol negotiated and the certificate's names, or the handshake's error. */
function handshake(servername: string, protocols?: string[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(
      { port, host: "127.0.0.1", servername, rejectUnauthorized: false, ALPNProtocols: protocols },
      () => {
        resolve(`${socket.alpnProtocol} ${socket.getPeerX509Certificate()?.subjectAltName}`);
        socket.destroy();
      },
    );
    socket.on("error", (error) => resolve(`error ${error.message}`));
  });
}

describe("TLS-ALPN-01 on the HTTP/2 server", () => {
  it("gives the challenge certificate to acme-tls/1 for a pending domain only", async () => {
    expect(await handshake("relay.test", [ACME_TLS_ALPN])).toMatch(/no application protocol/);
    challenges.addAlpn("Relay.Test", challenge.certPem, challenge.keyPem);
    expect(challenges.pending).toBe(1);
    expect(await handshake("relay.test", [ACME_TLS_ALPN])).toBe(
      `${ACME_TLS_ALPN} DNS:challenge.test`,
    );
    expect(await handshake("other.test", [ACME_TLS_ALPN])).toMatch(/no application protocol/);
    // Browsers on the same name, meanwhile, see nothing of it.
    expect(await handshake("relay.test", ["h2", "http/1.1"])).toBe("h2 DNS:relay.test");
    expect(await handshake("relay.test", ["http/1.1"])).toBe("http/1.1 DNS:relay.test");
    expect(await handshake("relay.test")).toBe("false DNS:relay.test");
    challenges.remove("relay.test", "");
    expect(challenges.pending).toBe(0);
    expect(await handshake("relay.test", [ACME_TLS_ALPN])).toMatch(/no application protocol/);
  });

  it("still refuses protocols it never spoke", async () => {
    expect(await handshake("relay.test", ["spdy/3"])).toMatch(/no application protocol/);
  });
});

describe("HTTP-01 listener", () => {
  function get(httpPort: number, path: string, method = "GET"): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request({ port: httpPort, host: "127.0.0.1", path, method }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve(`${res.statusCode} ${body}`));
      });
      req.on("error", reject);
      req.end();
    });
  }

  it("answers a pending token with its key authorization, and 404 for anything else", async () => {
    const http = await challenges.listenHttp(0, "127.0.0.1");
    try {
      const httpPort = portOf(http);
      const path = "/.well-known/acme-challenge/tok_EN-1";
      expect(await get(httpPort, path)).toBe("404 not found\n");
      challenges.addHttp("tok_EN-1", "tok_EN-1.thumbprint");
      expect(await get(httpPort, path)).toBe("200 tok_EN-1.thumbprint");
      expect(await get(httpPort, path, "POST")).toBe("404 not found\n");
      expect(await get(httpPort, `${path}/../tok_EN-1`)).toBe("404 not found\n");
      expect(await get(httpPort, `/.well-known/acme-challenge/${"a".repeat(300)}`)).toBe(
        "404 not found\n",
      );
      challenges.remove("", "tok_EN-1");
      expect(await get(httpPort, path)).toBe("404 not found\n");
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
