/** Why a capture stopped being readable. */
export type CaptureErrorCode =
  /** The input ended inside a header, record or block. */
  | "truncated"
  /** A structure is inconsistent (bad lengths, mismatched trailer, bad magic inside a file). */
  | "malformed"
  /** A length exceeds the reader's limit; refused before allocating. */
  | "too-large"
  /** Well-formed but not something this reader handles (unknown magic, unsupported version). */
  | "unsupported";

/**
 * A problem in the capture bytes. Readers never throw it: they deliver it as the last item
 * (`{ kind: "error" }`), after every record that was readable before the damage.
 */
export class CaptureError extends Error {
  override readonly name = "CaptureError";
  constructor(
    readonly code: CaptureErrorCode,
    /** Byte offset in the file of the header, record or block at fault. */
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** "16 MiB", "256 KiB", "100 bytes": limits named in error messages the way people write them. */
export function formatByteSize(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) return `${bytes / (1 << 10)} KiB`;
  return `${bytes} bytes`;
}
