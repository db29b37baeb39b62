/**
 * The SSH library's byte stream over a TCP connection inside the tunnel: the tunnel worker's
 * netstack connection, reached over its own MessagePort (the TCP console's `tcp-open`).
 */
import { BaseStream } from "@microsoft/dev-tunnels-ssh";
import { Buffer } from "buffer";
import type { TunnelClient } from "../client.js";
import type { TcpPortMessage } from "../protocol.js";

export class TunnelTcpStream extends BaseStream {
  readonly #port: MessagePort;

  private constructor(port: MessagePort) {
    super();
    this.#port = port;
  }

  /** Opens host:port through the tunnel; resolves once the TCP handshake completed. */
  static open(client: TunnelClient, host: string, port: number): Promise<TunnelTcpStream> {
    const { port1, port2 } = new MessageChannel();
    const stream = new TunnelTcpStream(port1);
    return new Promise((resolve, reject) => {
      let opened = false;
      port1.onmessage = ({ data }: MessageEvent<TcpPortMessage>) => {
        if (data.type === "open") {
          opened = true;
          resolve(stream);
        } else if (data.type === "data") stream.onData(Buffer.from(data.data));
        else if (data.type === "end" || data.type === "closed") stream.onEnd();
        else if (data.type === "error") {
          if (!opened) reject(new Error(`TCP ${host}:${port}: ${data.message}`));
          else stream.onError(new Error(`TCP connection: ${data.message}`));
        }
      };
      client.send({ type: "tcp-open", host, port, channel: port2 }, [port2]);
    });
  }

  async write(data: Buffer): Promise<void> {
    if (this.disposed) throw new Error("the TCP connection is closed");
    // A copy: the library may reuse its buffer once write() returns.
    this.#port.postMessage({ type: "send", data: new Uint8Array(data) } satisfies TcpPortMessage);
  }

  async close(): Promise<void> {
    if (this.disposed) return;
    this.#port.postMessage({ type: "close" } satisfies TcpPortMessage);
    this.disposed = true;
    this.fireOnClose();
  }

  override dispose(): void {
    if (!this.disposed) this.#port.postMessage({ type: "close" } satisfies TcpPortMessage);
    super.dispose();
  }
}
