/**
 * A small Node adapter: one UDP socket and real randomness, with a `DeviceRunner` on real time
 * driving a sans-IO Device. Everything protocol-related stays in the Device; this file only moves
 * bytes.
 */
import { randomFillSync } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { nodeCrypto } from "../crypto/node.js";
import type { CryptoBackend } from "../crypto/types.js";
import { Device, type DeviceOptions, type Output, type PeerOptions } from "../device.js";
import { pooledRandom } from "../random-pool.js";
import { DeviceRunner } from "../runner.js";
import { realTime } from "../schedulers.js";
import type { TraceEvent } from "../trace.js";

export interface UdpDeviceOptions
  extends Omit<DeviceOptions, "random" | "wallClock" | "crypto" | "keyLog"> {
  crypto?: CryptoBackend;
  /** Address to bind; default 0.0.0.0 (udp4) or :: (udp6). */
  host?: string;
  /** UDP port to listen on; 0 (default) picks a free one. */
  port?: number;
  type?: "udp4" | "udp6";
  /**
   * Socket receive and send buffer sizes in bytes (default 4 MiB; the kernel caps them, on Linux
   * at net.core.rmem_max / wmem_max). A busy tunnel delivers bursts of a whole TCP window while
   * the event loop is busy; the 208 KiB Linux default drops part of such a burst.
   */
  socketBuffer?: number;
  peers?: PeerOptions[];
  /** A decrypted IP packet arrived from `peer` (base64 public key). */
  onPacket?: (packet: Uint8Array, peer: string) => void;
  onEvent?: (event: TraceEvent) => void;
  /** Receives Wireshark key log lines (including ephemeral private keys) when set. */
  onKeyLog?: (line: string) => void;
}

const wallClockNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;

function setBufferSizes(socket: Socket, size: number): void {
  try {
    socket.setRecvBufferSize(size);
    socket.setSendBufferSize(size);
  } catch {
    // A system that refuses the size keeps its default: slower under bursts, still correct.
  }
}

export class UdpDevice {
  readonly device: Device;
  readonly #socket: Socket;
  readonly #options: UdpDeviceOptions;
  readonly #runner: DeviceRunner<Output>;

  private constructor(socket: Socket, options: UdpDeviceOptions) {
    this.#socket = socket;
    this.#options = options;
    this.device = new Device({
      ...options,
      crypto: options.crypto ?? nodeCrypto,
      random: pooledRandom(randomFillSync),
      wallClock: wallClockNs,
      keyLog: options.onKeyLog !== undefined,
    });
    this.#runner = new DeviceRunner({
      scheduler: realTime,
      tick: (now) => this.device.tick(now),
      output: (out) => this.#apply(out),
    });
    socket.on("message", (data, rinfo) => {
      // A view, not a copy; `rinfo` is the sender's endpoint as it is (the device copies an
      // endpoint it keeps).
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.#runner.run((now) => this.device.receive(now, bytes, rinfo));
    });
    for (const peer of options.peers ?? []) this.addPeer(peer);
  }

  /** Binds the socket and starts the device. */
  static async start(options: UdpDeviceOptions): Promise<UdpDevice> {
    const type = options.type ?? "udp4";
    const socket = createSocket(type);
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(options.port ?? 0, options.host ?? (type === "udp4" ? "0.0.0.0" : "::"), () => {
        socket.off("error", reject);
        setBufferSizes(socket, options.socketBuffer ?? DEFAULT_SOCKET_BUFFER);
        resolve();
      });
    });
    return new UdpDevice(socket, options);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  /** Sends a plaintext IP packet into the tunnel (routed by destination to a peer). */
  send(packet: Uint8Array): void {
    this.#runner.run((now) => this.device.send(now, packet));
  }

  /** Sends a plaintext packet to one peer, bypassing allowed-IPs routing. */
  sendToPeer(publicKey: Uint8Array, packet: Uint8Array): void {
    this.#runner.run((now) => this.device.sendToPeer(now, publicKey, packet));
  }

  addPeer(peer: PeerOptions): void {
    this.#runner.run((now) => this.device.addPeer(now, peer));
  }

  initiateHandshake(publicKey: Uint8Array): void {
    this.#runner.run((now) => this.device.initiateHandshake(now, publicKey));
  }

  close(): Promise<void> {
    this.#runner.stop();
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #apply(out: Output): void {
    for (const line of out.keyLog) this.#options.onKeyLog?.(line);
    for (const event of out.events) this.#options.onEvent?.(event);
    for (const d of out.datagrams) this.#socket.send(d.data, d.to.port, d.to.address);
    for (const p of out.packets) this.#options.onPacket?.(p.data, p.peer);
  }
}
