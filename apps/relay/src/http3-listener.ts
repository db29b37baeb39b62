/**
 * HTTP/3: the optional quiche add-on, and a server on UDP at the HTTP/2 port number.
 */

import { Http3Server } from "@fails-components/webtransport";

const HTTP3_ADDON = "@fails-components/webtransport-transport-http3-quiche";

/** Loads the optional quiche add-on; the reason it is unusable, or undefined when it loaded. */
async function loadHttp3Addon(): Promise<string | undefined> {
  try {
    await import(HTTP3_ADDON);
    return undefined;
  } catch (error) {
    return `${HTTP3_ADDON} is not installed or does not load (${(error as Error).message.split("\n")[0]})`;
  }
}

/** The running server, or the reason HTTP/3 cannot run. */
export async function startHttp3(options: {
  port: number;
  host: string;
  secret: string;
  cert: string;
  privKey: string;
}): Promise<Http3Server | string> {
  const missing = await loadHttp3Addon();
  if (missing) return missing;
  try {
    const http3 = new Http3Server(options);
    http3.startServer();
    // A server that cannot bind never settles `ready`: give up after a moment.
    const ok = await Promise.race([
      http3.ready.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000).unref()),
    ]);
    if (!ok) {
      try {
        http3.stopServer();
      } catch {}
      return `HTTP/3 server did not start on UDP port ${options.port}`;
    }
    return http3;
  } catch (error) {
    return `HTTP/3 server failed: ${(error as Error).message}`;
  }
}
