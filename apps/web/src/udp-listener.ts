/**
 * A UDP port inside the tunnel (Tools screen): a netstack socket on the tunnel's addresses that
 * counts what arrives, by size, and reports at most every REPORT_MS, never per datagram.
 */
import type { Netstack, UdpSocket } from "@wiregate/netstack";
import type { UdpListenStatus } from "./protocol.js";

const REPORT_MS = 100;

export class UdpListener {
  readonly #socket: UdpSocket;
  readonly #status: UdpListenStatus;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The stack's count of UDP datagrams dropped at a full port queue, when this port opened. */
  readonly #droppedBefore: number;

  constructor(
    readonly net: Netstack,
    port: number,
    readonly report: (status: UdpListenStatus) => void,
  ) {
    this.#socket = net.udp.bind(port);
    this.#droppedBefore = net.stack.stats.udpQueueFull;
    this.#status = { port: this.#socket.port, datagrams: 0, bytes: 0, sizes: {}, dropped: 0 };
    report({ ...this.#status });
    void this.#read();
  }

  get port(): number {
    return this.#socket.port;
  }

  async #read(): Promise<void> {
    const reader = this.#socket.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const status = this.#status;
        status.datagrams++;
        status.bytes += value.data.length;
        status.sizes[value.data.length] = (status.sizes[value.data.length] ?? 0) + 1;
        status.from = `${value.from}:${value.fromPort}`;
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          // The stack counts drops for all its ports; besides this one, only the resolver's open
          // (one per DNS query, read as datagrams arrive, far below the queue's 256), so the
          // count is this port's unless a DNS server floods a query's port.
          status.dropped = this.net.stack.stats.udpQueueFull - this.#droppedBefore;
          this.report({ ...this.#status, sizes: { ...this.#status.sizes } });
        }, REPORT_MS);
      }
    } catch {
      // Closed.
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#socket.close();
  }
}
