/**
 * The ops listener: Prometheus metrics at /metrics and a health document at /healthz, plain HTTP,
 * loopback unless the configuration says otherwise (it is unauthenticated).
 */

import { createServer, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { isLoopbackAddress } from "./config.js";

export interface OpsSources {
  metrics: Registry;
  /** The /healthz document; `draining` answers 503. */
  health(): { draining: boolean } & Record<string, unknown>;
}

async function serve(url: string, res: ServerResponse, sources: OpsSources): Promise<void> {
  if (url === "/metrics") {
    const body = await sources.metrics.metrics();
    res.writeHead(200, { "content-type": sources.metrics.contentType }).end(body);
  } else if (url === "/healthz") {
    const { draining, ...rest } = sources.health();
    res
      .writeHead(draining ? 503 : 200, { "content-type": "application/json" })
      .end(JSON.stringify({ status: draining ? "draining" : "ok", ...rest }));
  } else {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  }
}

/**
 * Listens on `host:port`; refuses (closes it and throws) when the address actually bound is not
 * loopback unless `allowPublic`.
 */
export async function startOpsServer(
  host: string,
  port: number,
  allowPublic: boolean,
  sources: OpsSources,
): Promise<{ server: HttpServer; port: number }> {
  const server = createServer((req, res) => void serve(req.url ?? "/", res, sources));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  if (!allowPublic && !isLoopbackAddress(bound.address)) {
    await closeOpsServer(server);
    throw new Error(
      `relay: the ops listener (${host}) is bound to ${bound.address}, not loopback; set opsPublic to allow it`,
    );
  }
  return { server, port: bound.port };
}

export async function closeOpsServer(server: HttpServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
