import { type ControlFrame, FrameReader } from "@wiregate/relay-protocol";

/**
 * Reads client control frames one at a time from a stream. A chunk may carry several frames (a
 * hello and a stats request in one write): the ones after the first wait here for the next call.
 * What waits is bounded by one chunk, and nothing is read from the stream while frames wait.
 */
export class ControlReader {
  readonly #frames = new FrameReader();
  #waiting: (ControlFrame | string)[] = [];

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** The next frame, or why there is none ("control stream ended", "bad control frame: ..."). */
  async next(): Promise<ControlFrame | string> {
    while (this.#waiting.length === 0) {
      const chunk = await this.reader.read();
      if (chunk.done) return "control stream ended";
      for (const result of this.#frames.push(chunk.value)) {
        // After a bad frame the stream can't be trusted: it is the last one handed out.
        this.#waiting.push(result.ok ? result.frame : `bad control frame: ${result.detail}`);
      }
    }
    return this.#waiting.shift()!;
  }
}
