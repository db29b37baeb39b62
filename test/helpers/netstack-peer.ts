/**
 * Our network stack on our WireGuard core over real UDP: a `UdpDevice` whose decrypted packets
 * feed a `Netstack`, and whose packets to send go back into the tunnel.
 */
import { keyFromBase64 } from "@wiregate/core";
import { UdpDevice } from "@wiregate/core/node";
import { Netstack, type TcpConfig } from "@wiregate/netstack";
import type { WireGuardPeer } from "./wireguard-peer.js";

export interface NetstackPeer {
  readonly udp: UdpDevice;
  readonly net: Netstack;
  close(): Promise<void>;
}

/** Our peer with `addresses`, tunnelled to `wg` (which gets us as its peer). */
export async function startNetstackPeer(
  wg: WireGuardPeer,
  us: { privateKey: string; publicKey: string; v4: string; v6: string },
  them: { v4: string; v6: string },
  mtu = 1420,
  tcp: Partial<TcpConfig> = {},
  /** Another build's Netstack (a bench's baseline); this build's by default. */
  Stack: typeof Netstack = Netstack,
): Promise<NetstackPeer> {
  let net: Netstack | undefined;
  const udp = await UdpDevice.start({
    privateKey: keyFromBase64(us.privateKey),
    host: wg.hostAddress,
    peers: [
      {
        publicKey: keyFromBase64(wg.publicKey),
        allowedIps: [`${them.v4}/32`, `${them.v6}/128`],
        endpoint: { address: wg.underlayAddress, port: wg.listenPort },
      },
    ],
    onPacket: (packet) => net?.receive(packet),
  });
  net = new Stack({ addresses: [us.v4, us.v6], mtu, tcp, send: (p) => udp.send(p) });
  await wg.setPeer({
    publicKey: us.publicKey,
    allowedIPs: [`${us.v4}/32`, `${us.v6}/128`],
    endpoint: `${wg.hostAddress}:${udp.port}`,
  });
  return { udp, net, close: () => udp.close() };
}

/** An HTTP request body of `length` bytes: `block` repeated, read chunk by chunk as the stack pulls. */
export function repeatingBody(block: Uint8Array, length: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (sent >= length) return controller.close();
      const chunk = Math.min(block.length, length - sent);
      controller.enqueue(block.slice(0, chunk));
      sent += chunk;
    },
  });
}
