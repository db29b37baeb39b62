import { UdpDecoder, type UdpDecoderOptions } from "./decoder.js";
import { type ByteStreamLike, type CaptureReaderOptions, readCapture } from "./reader.js";
import type { ErrorRecord, SecretsRecord } from "./records.js";
import { extractWireGuard, type WireGuardMessage } from "./wireguard.js";

/**
 * Every WireGuard message of a capture stream, in order, with embedded secrets and the final
 * error (if the file is damaged) passed through. Frames that are not WireGuard are skipped.
 */
export async function* readWireGuardMessages(
  source: AsyncIterable<Uint8Array> | ByteStreamLike,
  options: CaptureReaderOptions & UdpDecoderOptions = {},
): AsyncGenerator<WireGuardMessage | SecretsRecord | ErrorRecord, void, undefined> {
  const decoder = new UdpDecoder(options);
  for await (const record of readCapture(source, options)) {
    if (record.kind !== "packet") {
      yield record;
      continue;
    }
    const message = extractWireGuard(record, decoder);
    if (message !== undefined) yield message;
  }
}
