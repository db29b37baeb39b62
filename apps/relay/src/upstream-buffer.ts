/**
 * The receive buffer of a session's upstream UDP socket. The kernel's default (net.core.rmem_default,
 * ~208 KiB) holds about 90 datagrams of 1,452 bytes: an upstream's burst at stream speed during a
 * busy event-loop turn overflows it. The relay asks for `limits.upstreamReceiveBufferBytes`; the
 * kernel doubles the request for its bookkeeping and caps it at net.core.rmem_max, and charges
 * each datagram its buffer's true size (~2.3 KB for 1,452 bytes), never more than that per socket.
 */

import { createSocket, type Socket } from "node:dgram";
import { readFile } from "node:fs/promises";

/** Asks for `bytes` of receive buffer on a bound socket; what the kernel gave. */
export function sizeReceiveBuffer(socket: Socket, bytes: number): number {
  try {
    socket.setRecvBufferSize(bytes);
  } catch {
    // A kernel that refuses keeps its default: bursts overflow sooner, counted as socket-overflow.
  }
  return socket.getRecvBufferSize();
}

export interface ReceiveBufferProbe {
  /** What the relay asks for per session. */
  asked: number;
  /** What a socket gets on this host (the kernel's doubled, capped value). */
  got: number;
  /** net.core.rmem_max (Linux), when readable. */
  rmemMax?: number;
  /** The request was cut by net.core.rmem_max. */
  capped: boolean;
}

/** What each session's upstream socket will get here, from a throwaway socket. */
export async function probeReceiveBuffer(asked: number): Promise<ReceiveBufferProbe> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      socket.off("error", reject);
      resolve();
    });
  });
  const got = sizeReceiveBuffer(socket, asked);
  socket.close();
  const rmemMax = await readFile("/proc/sys/net/core/rmem_max", "utf8").then(
    (text) => Number.parseInt(text, 10),
    () => undefined,
  );
  return {
    asked,
    got,
    ...(rmemMax !== undefined && Number.isSafeInteger(rmemMax) ? { rmemMax } : {}),
    capped: got < 2 * asked,
  };
}
