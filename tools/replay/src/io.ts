/** Output plumbing: buffered writes that respect backpressure, so memory stays flat. */

export interface Sink {
  write(chunk: string): boolean;
  once(event: "drain", listener: () => void): unknown;
  isTTY?: boolean;
}

export class BufferedOut {
  #buffer = "";
  constructor(
    readonly sink: Sink,
    readonly limit = 1 << 16,
  ) {}

  line(text: string): Promise<void> | undefined {
    this.#buffer += text + "\n";
    if (this.#buffer.length >= this.limit) return this.flush();
    return undefined;
  }

  flush(): Promise<void> | undefined {
    if (this.#buffer === "") return undefined;
    const ok = this.sink.write(this.#buffer);
    this.#buffer = "";
    if (ok) return undefined;
    return new Promise((resolve) => this.sink.once("drain", () => resolve()));
  }
}
