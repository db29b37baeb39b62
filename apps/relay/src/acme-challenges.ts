/**
 * Answers ACME challenges on ports the relay owns.
 *
 * TLS-ALPN-01 (RFC 8737) on the TLS port: a validator offers only the ALPN protocol `acme-tls/1`
 * and expects a self-signed certificate carrying the key authorization's digest. Node picks the
 * ALPN protocol before the certificate (the certificate callback runs after it), so the server's
 * ALPN callback can give that one connection the challenge context; every other connection
 * negotiates h2 or http/1.1 as before and gets the relay's certificate.
 *
 * HTTP-01 on a plain HTTP port (80 for a public CA): GET /.well-known/acme-challenge/TOKEN.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createSecureContext, type SecureContext, type Server as TlsServer } from "node:tls";

export const ACME_TLS_ALPN = "acme-tls/1";
/** What the HTTP/2 server offered before: h2 first, HTTP/1.1 for the static files. */
const SERVED_PROTOCOLS = ["h2", "http/1.1"];
const HTTP_CHALLENGE_PATH = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,256})$/;
/** A name no client asks for: registering it makes Node run its certificate callback. */
const CERT_CALLBACK_NAME = "acme-tls-alpn.invalid";

/** Internals of a server-side TLSSocket that Node's own SNI handling uses. */
interface SocketInternals {
  _handle?: { sni_context?: unknown } | null;
}

type AlpnCallback = (
  this: SocketInternals,
  info: { servername: string; protocols: string[] },
) => string | undefined;

export class AcmeChallenges {
  readonly #alpn = new Map<string, SecureContext>();
  readonly #http = new Map<string, string>();

  /** TLS-ALPN-01: `domain` answers with this certificate until `remove`. */
  addAlpn(domain: string, certPem: string, keyPem: string): void {
    this.#alpn.set(domain.toLowerCase(), createSecureContext({ cert: certPem, key: keyPem }));
  }

  /** HTTP-01: the token's URL answers with the key authorization until `remove`. */
  addHttp(token: string, keyAuthorization: string): void {
    this.#http.set(token, keyAuthorization);
  }

  remove(domain: string, token: string): void {
    this.#alpn.delete(domain.toLowerCase());
    this.#http.delete(token);
  }

  get pending(): number {
    return this.#alpn.size + this.#http.size;
  }

  /** Makes `server` (the relay's HTTP/2 server) answer TLS-ALPN-01 challenges. */
  attachAlpn(server: TlsServer): void {
    const internals = server as unknown as {
      ALPNProtocols?: unknown;
      ALPNCallback?: AlpnCallback;
    };
    const challenges = this.#alpn;
    // Node refuses a server with both; the callback below keeps the old choice for everyone else.
    internals.ALPNProtocols = undefined;
    internals.ALPNCallback = function ({ servername, protocols }) {
      if (protocols.includes(ACME_TLS_ALPN)) {
        const context = challenges.get((servername || "").toLowerCase());
        if (!context || !this._handle) return undefined;
        // Read by Node's certificate callback, which runs next for this connection.
        this._handle.sni_context = (context as unknown as { context: unknown }).context;
        return ACME_TLS_ALPN;
      }
      return SERVED_PROTOCOLS.find((protocol) => protocols.includes(protocol));
    };
    // Node runs the certificate callback only when an SNI callback or context exists.
    server.addContext(CERT_CALLBACK_NAME, createSecureContext({}));
    // An HTTP/2 server drops what is not h2 or HTTP/1.1; a validator only needs the handshake.
    server.on("unknownProtocol", (socket: { destroy(): void }) => socket.destroy());
  }

  /** Serves HTTP-01 challenges on `port`; everything else is 404. */
  async listenHttp(port: number, host?: string): Promise<Server> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const token = HTTP_CHALLENGE_PATH.exec(req.url ?? "")?.[1];
      const answer = token === undefined ? undefined : this.#http.get(token);
      if (req.method !== "GET" || answer === undefined) {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(answer);
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    return server;
  }
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
