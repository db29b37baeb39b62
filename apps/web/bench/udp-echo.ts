/** The raw floods' upstream: a UDP echo on loopback, closed with the bench's other resources. */
import { createSocket } from "node:dgram";
import type { Closer } from "../../../test/helpers/closers.js";

export async function startUdpEcho(
  closers: Closer[],
): Promise<{ name: "echo"; host: string; port: number }> {
  const echo = createSocket("udp4");
  echo.on("message", (message, from) => echo.send(message, from.port, from.address));
  await new Promise<void>((resolve) => echo.bind(0, "127.0.0.1", () => resolve()));
  closers.push(() => echo.close());
  return { name: "echo", host: "127.0.0.1", port: echo.address().port };
}
