/**
 * Splits text arriving in chunks into lines with bounded memory: a line longer than `maxLine`
 * characters is reported as too long and its content skipped up to the next newline, so one
 * gigabyte without a newline costs `maxLine` characters, not a gigabyte.
 */
export class LineSplitter {
  #partial = "";
  #skipping = false;
  #line = 0;

  constructor(
    readonly onLine: (text: string, line: number) => void,
    readonly onTooLong: (line: number) => void,
    readonly maxLine = 16_384,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf("\n", start);
      if (nl < 0) break;
      this.#emit(chunk.slice(start, nl));
      start = nl + 1;
    }
    this.#append(chunk.slice(start));
  }

  /** The last line, if the text did not end with a newline. */
  end(): void {
    if (this.#partial !== "" || this.#skipping) this.#emit("");
  }

  #append(rest: string): void {
    if (this.#skipping || rest === "") return;
    if (this.#partial.length + rest.length > this.maxLine) {
      this.#partial = "";
      this.#skipping = true;
    } else this.#partial += rest;
  }

  #emit(tail: string): void {
    this.#line++;
    if (this.#skipping || this.#partial.length + tail.length > this.maxLine) {
      this.#partial = "";
      this.#skipping = false;
      this.onTooLong(this.#line);
      return;
    }
    let text = this.#partial + tail;
    this.#partial = "";
    if (text.endsWith("\r")) text = text.slice(0, -1);
    this.onLine(text, this.#line);
  }
}
