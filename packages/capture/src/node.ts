import { createReadStream } from "node:fs";
import { stdin } from "node:process";
import type { CaptureReaderOptions } from "./reader.js";
import { readCapture } from "./reader.js";
import type { CaptureRecord } from "./records.js";

export interface ReadCaptureFileOptions extends CaptureReaderOptions {
  /** Read size in bytes (default 1 MiB). */
  chunkSize?: number;
}

/**
 * Node only: streams a capture file (or "-" for standard input) through the reader, so memory
 * stays bounded whatever the file size. Bad capture bytes end with a `{ kind: "error" }` record;
 * file-system errors (missing file, permissions) are thrown.
 */
export function readCaptureFile(
  path: string,
  options: ReadCaptureFileOptions = {},
): AsyncGenerator<CaptureRecord, void, undefined> {
  const { chunkSize = 1 << 20, ...readerOptions } = options;
  const stream = path === "-" ? stdin : createReadStream(path, { highWaterMark: chunkSize });
  return readCapture(stream, readerOptions);
}
