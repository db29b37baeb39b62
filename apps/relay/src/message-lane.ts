/**
 * The relay's end of a session's message stream: the lane for every WireGuard message with the
 * stream carriage, else for those larger than the session's datagrams (wire format in
 * @wiregate/relay-protocol's message-stream.ts). The client opens it right after the welcome; this
 * accepts it, splits what arrives into messages, and writes messages toward the client through a
 * StreamSender: one write per event-loop turn, a bounded backlog.
 */

import { STREAM_QUEUE_BYTES, StreamMessageReader, StreamSender } from "@wiregate/relay-protocol";

type ByteStream = { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };

/**
 * Bytes written to the stream and not yet taken by the transport, and waiting behind them, before
 * dropping (the default of `limits.streamQueueBytes`).
 */
export const MESSAGE_LANE_BACKLOG = STREAM_QUEUE_BYTES;

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
  #sender: StreamSender | undefined;
  #closed = false;

  constructor(
    readonly messageSize: number,
    readonly events: MessageLaneEvents,
    readonly backlogBytes = MESSAGE_LANE_BACKLOG,
  ) {}

  /** Takes the first stream from `streams` as the lane; refuses later ones. Ends with the session. */
  async accept(streams: ReadableStream<ByteStream>): Promise<void> {
    const reader = streams.getReader();
    try {
      for (;;) {
        const next = await reader.read();
        if (next.done || this.#closed) return;
        if (this.#sender) {
          this.events.extraStream();
          void next.value.readable.cancel().catch(ignore);
          void next.value.writable.abort().catch(ignore);
          continue;
        }
        this.#sender = new StreamSender(next.value.writable.getWriter(), {
          maxBytes: this.backlogBytes,
        });
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
    const sender = this.#sender;
    if (!sender || this.#closed) return "no-message-stream";
    // The stream is reliable: a client that does not keep up must not grow our memory.
    return sender.send(message) ? "sent" : "stream-backlog";
  }

  close(): void {
    this.#closed = true;
    this.#sender?.close();
    this.#sender = undefined;
  }
}
