/** UDP sockets (RFC 768): bound ports; arriving datagrams are reported as events. */
import { buildUdp } from "@wiregate/packets";
import type { Sink } from "./events.js";
import type { IpDatagram } from "./ip.js";

export class UdpLayer {
  readonly #ports = new Set<number>();
  readonly #maxSockets: number;
  readonly #random: (n: number) => Uint8Array;

  constructor(random: (n: number) => Uint8Array, maxSockets = 1024) {
    this.#random = random;
    this.#maxSockets = maxSockets;
  }

  bind(port?: number): number {
    if (this.#ports.size >= this.#maxSockets) throw new RangeError("too many UDP sockets");
    if (port !== undefined) {
      if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
        throw new RangeError(`port: ${port} is not 1–65535`);
      }
      if (this.#ports.has(port)) throw new Error(`UDP port ${port} is already bound`);
      this.#ports.add(port);
      return port;
    }
    const r = this.#random(2);
    const start = ((r[0]! << 8) | r[1]!) % 16384;
    for (let i = 0; i < 16384; i++) {
      const candidate = 49152 + ((start + i) % 16384);
      if (!this.#ports.has(candidate)) {
        this.#ports.add(candidate);
        return candidate;
      }
    }
    throw new RangeError("no free UDP port");
  }

  close(port: number): void {
    this.#ports.delete(port);
  }

  send(
    sink: Sink,
    local: string,
    port: number,
    remote: string,
    remotePort: number,
    data: Uint8Array,
  ) {
    if (!this.#ports.has(port)) throw new Error(`UDP port ${port} is not bound`);
    sink.packets.push(
      buildUdp({
        source: local,
        destination: remote,
        sourcePort: port,
        destinationPort: remotePort,
        data,
      }),
    );
  }

  receive(d: IpDatagram, sink: Sink): void {
    const b = d.packet.subarray(d.offset);
    if (b.length < 8) {
      sink.stats.malformed++;
      return;
    }
    const length = (b[4]! << 8) | b[5]!;
    if (length < 8 || length > b.length) {
      sink.stats.malformed++;
      return;
    }
    const port = (b[2]! << 8) | b[3]!;
    if (!this.#ports.has(port)) {
      sink.stats.noSocket++;
      return;
    }
    sink.events.push({
      type: "udp",
      port,
      from: d.source,
      fromPort: (b[0]! << 8) | b[1]!,
      to: d.destination,
      data: b.slice(8, length),
    });
  }
}
