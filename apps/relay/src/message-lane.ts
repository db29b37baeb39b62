/**
 * The relay's end of a session's message stream: the lane for WireGuard messages larger than the
 * session's datagrams (wire format in @wiregate/relay-protocol's message-stream.ts). The client opens it
 * right after the welcome; this accepts it, splits what arrives into messages, and writes larger
 * messages toward the client with a bounded backlog.
 */

import { encodeStreamMessage, StreamMessageReader } from "@wiregate/relay-protocol";

type ByteStream = { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };

/** Bytes written to the stream and not yet taken by the transport, before dropping. */
export const MESSAGE_LANE_BACKLOG = 64 * 1024;

export interface MessageLaneEvents {
  /** A complete message from the client, at most `messageSize` bytes (not yet shape-checked). */
  message(message: Uint8Array): void;
  /** A message from the client over `messageSize`: skipped. */
  oversized(length: number): void;
  /** A second stream the client opened: refused. */
  extraStream(): void;
}

const ignore = (): void => {};

export class MessageLane {
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #backlog = 0;
  #closed = false;

  constructor(
    readonly messageSize: number,
    readonly events: MessageLaneEvents,
  ) {}

  /** Takes the first stream from `streams` as the lane; refuses later ones. Ends with the session. */
  async accept(streams: ReadableStream<ByteStream>): Promise<void> {
    const reader = streams.getReader();
    try {
      for (;;) {
        const next = await reader.read();
        if (next.done || this.#closed) return;
        if (this.#writer) {
          this.events.extraStream();
          void next.value.readable.cancel().catch(ignore);
          void next.value.writable.abort().catch(ignore);
          continue;
        }
        this.#writer = next.value.writable.getWriter();
        void this.#read(next.value.readable);
      }
    } catch {
      // The session ended.
    }
  }

  async #read(readable: ReadableStream<Uint8Array>): Promise<void> {
    const reader = readable.getReader();
    const messages = new StreamMessageReader(this.messageSize);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#closed) return;
        for (const result of messages.push(value)) {
          if (result.ok) this.events.message(result.message);
          else this.events.oversized(result.length);
        }
      }
    } catch {
      // The stream or the session ended.
    }
  }

  /** Writes one message toward the client, or says why it cannot (the caller counts it). */
  send(message: Uint8Array): "sent" | "no-message-stream" | "stream-backlog" {
    const writer = this.#writer;
    if (!writer || this.#closed) return "no-message-stream";
    // The stream is reliable: a client that does not keep up must not grow our memory.
    if (this.#backlog + message.length > MESSAGE_LANE_BACKLOG) return "stream-backlog";
    this.#backlog += message.length;
    const release = () => {
      this.#backlog -= message.length;
    };
    writer.write(encodeStreamMessage(message)).then(release, release);
    return "sent";
  }

  close(): void {
    this.#closed = true;
    this.#writer = undefined;
  }
}
