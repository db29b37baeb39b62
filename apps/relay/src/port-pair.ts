/**
 * An ephemeral port number free for both TCP and UDP. HTTP/3 listens on UDP at the HTTP/2 port's
 * number; asked for port 0, the kernel picks a TCP port whose UDP twin another socket may hold
 * (every upstream socket of a busy relay is a UDP port from the same range), and HTTP/3 then fails
 * with EADDRINUSE. So the UDP side is chosen first and held until HTTP/3 has bound it: the hold sets
 * SO_REUSEADDR like the add-on's socket, so the two may share it for that moment, and no other
 * socket can take it meanwhile.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { createServer } from "node:net";

export interface HeldPort {
  port: number;
  /** Lets the UDP number go (once HTTP/3 has it, or when giving up). */
  release(): Promise<void>;
}

const ATTEMPTS = 16;

function bindUdp(family: 4 | 6, address: string): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: family === 4 ? "udp4" : "udp6", reuseAddr: true });
    socket.once("error", reject);
    socket.bind(0, address, () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

function tcpFree(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, address, () => server.close(() => resolve(true)));
  });
}

/** A port free for TCP on `host` whose UDP side is held until `release()`. */
export async function holdPortPair(host: string): Promise<HeldPort> {
  const { address, family } = await lookup(host);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const udp = await bindUdp(family === 6 ? 6 : 4, address);
    const { port } = udp.address();
    if (await tcpFree(port, address))
      return { port, release: () => new Promise<void>((r) => udp.close(() => r())) };
    udp.close();
  }
  throw new Error(`no port free for both TCP and UDP on ${host} after ${ATTEMPTS} tries`);
}
