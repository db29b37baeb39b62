import type { ChunkQueue } from "./chunks.js";
import { formatByteSize } from "./errors.js";
import { errorRecord, type FormatParser, type ReaderLimits, starved } from "./parser.js";
import type { CaptureRecord, PacketRecord } from "./records.js";

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;

const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;

/** Classic libpcap files: a 24-byte header, then 16-byte record headers each followed by data. */
export class PcapParser implements FormatParser {
  private littleEndian = true;
  private nanoseconds = false;
  private linkType = 0;
  private snaplen = 0;
  private headerDone = false;
  private index = 0;

  constructor(private readonly limits: ReaderLimits) {}

  next(queue: ChunkQueue): CaptureRecord | undefined {
    if (!this.headerDone) {
      if (!queue.want(FILE_HEADER_LENGTH)) {
        return starved(queue, "pcap", "file header", FILE_HEADER_LENGTH, false);
      }
      const failure = this.readFileHeader(queue);
      if (failure !== undefined) return failure;
      queue.consume(FILE_HEADER_LENGTH);
      this.headerDone = true;
    }
    if (!queue.want(RECORD_HEADER_LENGTH)) {
      return starved(queue, "pcap", `record ${this.index + 1} header`, RECORD_HEADER_LENGTH, true);
    }
    const offset = queue.offset;
    const le = this.littleEndian;
    let view = queue.view;
    let at = queue.at;
    const capturedLength = view.getUint32(at + 8, le);
    const originalLength = view.getUint32(at + 12, le);
    const label = `pcap: record ${this.index + 1} at offset ${offset}`;
    if (capturedLength > this.limits.maxPcapRecordBytes) {
      return errorRecord(
        "too-large",
        offset,
        `${label} claims captured length ${capturedLength}, more than the ${formatByteSize(this.limits.maxPcapRecordBytes)} limit`,
      );
    }
    if (capturedLength > originalLength) {
      return errorRecord(
        "malformed",
        offset,
        `${label} has captured length ${capturedLength} greater than its original length ${originalLength}`,
      );
    }
    if (this.snaplen !== 0 && capturedLength > this.snaplen) {
      return errorRecord(
        "malformed",
        offset,
        `${label} has captured length ${capturedLength} greater than the file's snapshot length ${this.snaplen}`,
      );
    }
    const total = RECORD_HEADER_LENGTH + capturedLength;
    if (!queue.want(total)) {
      return starved(queue, "pcap", `record ${this.index + 1}`, total, false);
    }
    view = queue.view;
    at = queue.at;
    const seconds = view.getUint32(at, le);
    const fraction = view.getUint32(at + 4, le);
    let timestampNs: bigint;
    let time: number;
    if (this.nanoseconds) {
      timestampNs = BigInt(seconds) * 1_000_000_000n + BigInt(fraction);
      time = seconds + fraction / 1e9;
    } else {
      // seconds * 1e6 + µs stays below 2^53, so one BigInt conversion is exact.
      timestampNs = BigInt(seconds * 1_000_000 + fraction) * 1000n;
      time = seconds + fraction / 1e6;
    }
    const record: PacketRecord = {
      kind: "packet",
      index: ++this.index,
      interfaceId: 0,
      linkType: this.linkType,
      timestampNs,
      time,
      capturedLength,
      originalLength,
      data: queue.bytes.subarray(at + RECORD_HEADER_LENGTH, at + total),
      offset,
    };
    queue.consume(total);
    return record;
  }

  private readFileHeader(queue: ChunkQueue): CaptureRecord | undefined {
    const view = queue.view;
    const at = queue.at;
    const big = view.getUint32(at, false);
    const little = view.getUint32(at, true);
    if (big === PCAP_MAGIC_MICROSECONDS || big === PCAP_MAGIC_NANOSECONDS) {
      this.littleEndian = false;
      this.nanoseconds = big === PCAP_MAGIC_NANOSECONDS;
    } else if (little === PCAP_MAGIC_MICROSECONDS || little === PCAP_MAGIC_NANOSECONDS) {
      this.littleEndian = true;
      this.nanoseconds = little === PCAP_MAGIC_NANOSECONDS;
    } else {
      return errorRecord("unsupported", 0, `pcap: unknown magic 0x${hex32(big)}`);
    }
    const le = this.littleEndian;
    const major = view.getUint16(at + 4, le);
    const minor = view.getUint16(at + 6, le);
    if (major !== 2) {
      return errorRecord(
        "unsupported",
        4,
        `pcap: file format version ${major}.${minor} is not supported (only 2.x)`,
      );
    }
    this.snaplen = view.getUint32(at + 16, le);
    // The top bits of the link-type field carry FCS information, not the link type.
    this.linkType = view.getUint32(at + 20, le) & 0x03ffffff;
    return undefined;
  }
}

export function hex32(value: number): string {
  return value.toString(16).padStart(8, "0");
}
