/**
 * The tunnel worker's WireGuard device and its driver: a `DeviceRunner` on real time runs every
 * call at the current time and ticks the device at its deadlines. Its one peer sits behind the
 * relay session. Also the MTU a relay session allows, since that decides when a device is rebuilt.
 */
import {
  type CryptoBackend,
  Device,
  DeviceRunner,
  type Output,
  type PeerStatus,
  type RandomSource,
  realTime,
} from "@wiregate/core";
import type { PeerSettings } from "./protocol.js";

/** The engine's name for "the other end of the relay session"; opaque to it. */
const RELAY_ENDPOINT = { address: "relay", port: 0 };
/** WireGuard transport message overhead: 16-byte header + 16-byte tag. */
export const TRANSPORT_OVERHEAD = 32;

/**
 * The largest WireGuard message per datagram (the smaller of the relay's and the browser
 * transport's limits; a `transportMax` of 0 is no limit) and the tunnel MTU. Over HTTP/3 messages
 * above the datagram limit take the message stream, so there the relay's message limit sets the MTU.
 */
export function sessionLimits(
  welcome: { datagramSize: number; messageSize?: number },
  transportMax: number,
): { datagramSize: number; mtu: number } {
  const datagramSize = Math.min(
    welcome.datagramSize,
    transportMax > 0 ? transportMax : Number.POSITIVE_INFINITY,
  );
  const mtu = Math.max(datagramSize, welcome.messageSize ?? 0) - TRANSPORT_OVERHEAD;
  return { datagramSize, mtu };
}

export interface TunnelEngineOptions {
  privateKey: Uint8Array;
  mtu: number;
  crypto: CryptoBackend;
  random: RandomSource;
  /** Nanoseconds since the epoch, for TAI64N timestamps. */
  wallClock: () => bigint;
  /** Everything every call produced: datagrams for the relay, packets, events. */
  output: (out: Output) => void;
}

export class TunnelEngine {
  readonly mtu: number;
  readonly #device: Device;
  readonly #runner: DeviceRunner<Output>;

  constructor(o: TunnelEngineOptions) {
    this.mtu = o.mtu;
    const device = new Device({
      privateKey: o.privateKey,
      random: o.random,
      wallClock: o.wallClock,
      mtu: o.mtu,
      crypto: o.crypto,
    });
    this.#device = device;
    this.#runner = new DeviceRunner({
      scheduler: realTime,
      tick: (t) => device.tick(t),
      output: o.output,
    });
  }

  addPeer(peer: PeerSettings): void {
    this.#runner.run((t) =>
      this.#device.addPeer(t, {
        publicKey: peer.publicKey,
        allowedIps: peer.allowedIps,
        endpoint: RELAY_ENDPOINT,
        ...(peer.presharedKey ? { presharedKey: peer.presharedKey } : {}),
        ...(peer.persistentKeepaliveSeconds
          ? { persistentKeepaliveSeconds: peer.persistentKeepaliveSeconds }
          : {}),
      }),
    );
  }

  initiateHandshake(peer: Uint8Array): void {
    this.#runner.run((t) => this.#device.initiateHandshake(t, peer));
  }

  /** A datagram from the relay session. */
  receive(datagram: Uint8Array): void {
    this.#runner.run((t) => this.#device.receive(t, datagram, RELAY_ENDPOINT));
  }

  /** One plaintext packet into the tunnel (the caller keeps it within the MTU). */
  send(packet: Uint8Array): void {
    this.#runner.run((t) => this.#device.send(t, packet));
  }

  /**
   * A keepalive (a transport message with nothing inside) to `peer` now: after a move to another
   * relay, the upstream learns the new relay's address from it at once instead of at the next
   * packet. Staged, and so sent after a handshake, when no keypair is up.
   */
  keepalive(peer: Uint8Array): void {
    this.#runner.run((t) => this.#device.sendToPeer(t, peer, new Uint8Array(0)));
  }

  peerStatus(peer: Uint8Array): PeerStatus | undefined {
    return this.#device.peerStatus(peer);
  }

  stop(): void {
    this.#runner.stop();
  }
}
