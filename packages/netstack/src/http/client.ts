/**
 * A small HTTP/1.1 client (RFC 9112) over a netstack TCP connection: one request per connection
 * ("Connection: close"). Framing, bodies and errors are HttpConnection's (connection.ts); a pool
 * that keeps connections for more requests uses HttpConnection itself.
 */
import type { Netstack } from "../netstack.js";
import { HttpConnection, type HttpRequest, type HttpResponse } from "./connection.js";

export type { HttpRequest, HttpResponse };

export async function httpRequest(net: Netstack, request: HttpRequest): Promise<HttpResponse> {
  const conn = new HttpConnection(
    await net.connect({ host: request.host, port: request.port ?? 80 }),
  );
  const { done: _, ...response } = await conn.request(request, { keepAlive: false });
  return response;
}
