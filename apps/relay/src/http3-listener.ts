/**
 * HTTP/3: the optional quiche add-on, and a server on UDP at the HTTP/2 port number.
 *
 * Left to itself, the add-on accepts every request for a known path and hands the relay a session
 * without its request headers, so neither the Origin check nor the transport check could see
 * them. The relay takes over the request instead (`setRequestCallback`): it answers 404 for
 * other paths, and accepts the rest with their headers attached to the session, where the same
 * checks as for HTTP/2 run.
 *
 * The add-on takes its certificate only when created, and the library's `updateCert` does nothing
 * for it, so a new certificate means a new server: the old one closes its QUIC connections
 * (clients reconnect), and a new one binds the same port.
 */

import { Http3Server } from "@fails-components/webtransport";

const HTTP3_ADDON = "@fails-components/webtransport-transport-http3-quiche";

/**
 * Receive and send buffers of the one UDP socket every HTTP/3 client shares. With the kernel's
 * default (~208 KiB) a stall of the event loop of a few milliseconds under 200 sessions overflowed
 * it, and the clients' QUIC declared the dropped packets lost (29 % of datagrams measured, see
 * docs/performance.md). The kernel caps the request at net.core.rmem_max / wmem_max.
 */
export const HTTP3_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** Loads the optional quiche add-on; the reason it is unusable, or undefined when it loaded. */
async function loadHttp3Addon(): Promise<string | undefined> {
  try {
    await import(HTTP3_ADDON);
    return undefined;
  } catch (error) {
    return `${HTTP3_ADDON} is not installed or does not load (${(error as Error).message.split("\n")[0]})`;
  }
}

type Headers = Record<string, unknown>;

/** The add-on's verdict on one request: the status, and for 200 the headers the session keeps. */
export function answerRequest(
  header: Headers,
  path: string,
): { status: number; path: string; header?: Headers } {
  const asked = header[":path"];
  if (asked !== path) return { status: 404, path: typeof asked === "string" ? asked : "" };
  return { status: 200, path, header };
}

export interface Http3Options {
  /** The one path sessions are accepted on. */
  path: string;
  port: number;
  host: string;
  secret: string;
  cert: string;
  privKey: string;
}

/** The running server, or the reason HTTP/3 cannot run. */
export async function startHttp3(options: Http3Options): Promise<Http3Server | string> {
  const missing = await loadHttp3Addon();
  if (missing) return missing;
  try {
    const { path, ...serverOptions } = options;
    const http3 = new Http3Server({
      ...serverOptions,
      quicheNodeSocketOptions: {
        recvBufferSize: HTTP3_SOCKET_BUFFER_BYTES,
        sendBufferSize: HTTP3_SOCKET_BUFFER_BYTES,
      },
    });
    // The library waits for this promise; one that rejected would leave the request hanging.
    http3.setRequestCallback(async ({ header }: { header: Headers }) =>
      answerRequest(header ?? {}, path),
    );
    http3.startServer();
    // A server that cannot bind never settles `ready`: give up after a moment.
    const ok = await Promise.race([
      http3.ready.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000).unref()),
    ]);
    if (!ok) {
      stopHttp3(http3);
      return `HTTP/3 server did not start on UDP port ${options.port}`;
    }
    return http3;
  } catch (error) {
    return `HTTP/3 server failed: ${(error as Error).message}`;
  }
}

export function stopHttp3(server: Http3Server): void {
  try {
    server.stopServer();
  } catch {
    // Already stopped, or never started.
  }
}
