import type { ChunkQueue } from "./chunks.js";
import { formatByteSize } from "./errors.js";
import { errorRecord, type FormatParser, type ReaderLimits, starved } from "./parser.js";
import { hex32 } from "./pcap.js";
import {
  type CaptureRecord,
  type ErrorRecord,
  SECRETS_TYPE_SSH,
  SECRETS_TYPE_TLS,
  SECRETS_TYPE_WIREGUARD,
} from "./records.js";

export const BLOCK_SECTION_HEADER = 0x0a0d0d0a;
export const BLOCK_INTERFACE_DESCRIPTION = 0x00000001;
export const BLOCK_PACKET_OBSOLETE = 0x00000002;
export const BLOCK_SIMPLE_PACKET = 0x00000003;
export const BLOCK_NAME_RESOLUTION = 0x00000004;
export const BLOCK_INTERFACE_STATISTICS = 0x00000005;
export const BLOCK_ENHANCED_PACKET = 0x00000006;
export const BLOCK_DECRYPTION_SECRETS = 0x0000000a;
export const BLOCK_SYSTEMD_JOURNAL_EXPORT = 0x00000009;
export const BLOCK_CUSTOM_COPYABLE = 0x00000bad;
export const BLOCK_CUSTOM_NOT_COPYABLE = 0x40000bad;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPTION_END = 0;
export const OPTION_IF_NAME = 2;
export const OPTION_IF_TSRESOL = 9;
export const OPTION_IF_TSOFFSET = 14;

/** Smallest valid total length of each block type we interpret (header, fixed fields, trailer). */
const MINIMUM_LENGTH: Record<number, number> = {
  [BLOCK_SECTION_HEADER]: 28,
  [BLOCK_INTERFACE_DESCRIPTION]: 20,
  [BLOCK_PACKET_OBSOLETE]: 32,
  [BLOCK_SIMPLE_PACKET]: 16,
  [BLOCK_ENHANCED_PACKET]: 32,
  [BLOCK_DECRYPTION_SECRETS]: 20,
};

const BLOCK_NAMES: Record<number, string> = {
  [BLOCK_SECTION_HEADER]: "Section Header Block",
  [BLOCK_INTERFACE_DESCRIPTION]: "Interface Description Block",
  [BLOCK_PACKET_OBSOLETE]: "Packet Block",
  [BLOCK_SIMPLE_PACKET]: "Simple Packet Block",
  [BLOCK_ENHANCED_PACKET]: "Enhanced Packet Block",
  [BLOCK_DECRYPTION_SECRETS]: "Decryption Secrets Block",
};

const TEXT_SECRETS = new Set([SECRETS_TYPE_WIREGUARD, SECRETS_TYPE_TLS, SECRETS_TYPE_SSH]);

interface Interface {
  linkType: number;
  snaplen: number;
  /** Timestamp units → ns: ns = units * multiplier / divisor + offset. */
  multiplier: bigint;
  divisor: bigint;
  offsetNs: bigint;
  /** Microsecond units without offset: the common case, converted with one BigInt. */
  plainMicroseconds: boolean;
}

/** pcapng: blocks in any order, several sections (either byte order) and interfaces. */
export class PcapngParser implements FormatParser {
  private littleEndian = true;
  private inSection = false;
  private interfaces: Interface[] = [];
  private index = 0;
  private readonly textDecoder = new TextDecoder("utf-8");

  constructor(private readonly limits: ReaderLimits) {}

  next(queue: ChunkQueue): CaptureRecord | undefined {
    for (;;) {
      if (!queue.want(8)) return starved(queue, "pcapng", "block header", 8, this.inSection);
      const offset = queue.offset;
      let type = queue.view.getUint32(queue.at, this.littleEndian);
      let length: number;
      if (type === BLOCK_SECTION_HEADER) {
        // The section's byte order is only known from the magic after the length.
        if (!queue.want(12)) return starved(queue, "pcapng", "section header", 12, false);
        const magic = queue.view.getUint32(queue.at + 8, true);
        if (magic === BYTE_ORDER_MAGIC) this.littleEndian = true;
        else if (magic === 0x4d3c2b1a) this.littleEndian = false;
        else {
          return errorRecord(
            "malformed",
            offset,
            `pcapng: section header at offset ${offset} has byte-order magic 0x${hex32(magic)}, expected 0x1a2b3c4d in either byte order`,
          );
        }
        length = queue.view.getUint32(queue.at + 4, this.littleEndian);
      } else {
        if (!this.inSection) {
          return errorRecord(
            "malformed",
            offset,
            `pcapng: block at offset ${offset} has type 0x${hex32(type)} but no Section Header Block came first`,
          );
        }
        length = queue.view.getUint32(queue.at + 4, this.littleEndian);
      }
      const lengthProblem = this.checkLength(type, length, offset);
      if (lengthProblem !== undefined) return lengthProblem;
      if (!queue.want(length)) {
        return starved(queue, "pcapng", `block of type 0x${hex32(type)}`, length, false);
      }
      const view = queue.view;
      const at = queue.at;
      type = view.getUint32(at, this.littleEndian);
      const trailer = view.getUint32(at + length - 4, this.littleEndian);
      if (trailer !== length) {
        return errorRecord(
          "malformed",
          offset,
          `pcapng: block at offset ${offset} has trailing length ${trailer}, but its leading length is ${length}`,
        );
      }
      let result: CaptureRecord | undefined;
      switch (type) {
        case BLOCK_SECTION_HEADER:
          result = this.readSectionHeader(view, at, offset);
          break;
        case BLOCK_INTERFACE_DESCRIPTION:
          result = this.readInterface(view, at, length, offset);
          break;
        case BLOCK_ENHANCED_PACKET:
          result = this.readEnhancedPacket(queue.bytes, view, at, length, offset);
          break;
        case BLOCK_SIMPLE_PACKET:
          result = this.readSimplePacket(queue.bytes, view, at, length, offset);
          break;
        case BLOCK_PACKET_OBSOLETE:
          result = this.readObsoletePacket(queue.bytes, view, at, length, offset);
          break;
        case BLOCK_DECRYPTION_SECRETS:
          result = this.readSecrets(queue.bytes, view, at, length, offset);
          break;
        case BLOCK_SYSTEMD_JOURNAL_EXPORT:
        case BLOCK_CUSTOM_COPYABLE:
        case BLOCK_CUSTOM_NOT_COPYABLE:
          // Not packets, but Wireshark lists them as frames: keep `index` equal to frame.number.
          this.index++;
          break;
        default:
          // Statistics, name resolution and unknown blocks carry nothing we report.
          break;
      }
      if (result?.kind === "error") return result;
      queue.consume(length);
      if (result !== undefined) return result;
    }
  }

  private checkLength(type: number, length: number, offset: number): ErrorRecord | undefined {
    if (length > this.limits.maxPcapngBlockBytes) {
      return errorRecord(
        "too-large",
        offset,
        `pcapng: block at offset ${offset} claims length ${length}, more than the ${formatByteSize(this.limits.maxPcapngBlockBytes)} limit`,
      );
    }
    const minimum = MINIMUM_LENGTH[type] ?? 12;
    if (length < minimum || length % 4 !== 0) {
      const name = BLOCK_NAMES[type] ?? `block of type 0x${hex32(type)}`;
      return errorRecord(
        "malformed",
        offset,
        `pcapng: ${name} at offset ${offset} has length ${length}; it must be a multiple of 4 and at least ${minimum}`,
      );
    }
    return undefined;
  }

  private readSectionHeader(view: DataView, at: number, offset: number): ErrorRecord | undefined {
    const major = view.getUint16(at + 12, this.littleEndian);
    const minor = view.getUint16(at + 14, this.littleEndian);
    if (major !== 1) {
      return errorRecord(
        "unsupported",
        offset,
        `pcapng: section at offset ${offset} has version ${major}.${minor}; only 1.x is supported`,
      );
    }
    this.inSection = true;
    this.interfaces = []; // interface ids restart in every section
    return undefined;
  }

  private readInterface(
    view: DataView,
    at: number,
    length: number,
    offset: number,
  ): ErrorRecord | undefined {
    const le = this.littleEndian;
    const linkType = view.getUint16(at + 8, le);
    const snaplen = view.getUint32(at + 12, le);
    let multiplier = 1000n;
    let divisor = 1n;
    let offsetNs = 0n;
    let plainMicroseconds = true;
    const end = at + length - 4;
    for (let p = at + 16; p + 4 <= end; ) {
      const code = view.getUint16(p, le);
      const size = view.getUint16(p + 2, le);
      if (code === OPTION_END) break;
      if (p + 4 + size > end) {
        return errorRecord(
          "malformed",
          offset,
          `pcapng: option ${code} of the Interface Description Block at offset ${offset} runs past the end of the block`,
        );
      }
      if (code === OPTION_IF_TSRESOL && size >= 1) {
        const resolution = view.getUint8(p + 4);
        const exponent = BigInt(resolution & 0x7f);
        const unitsPerSecond = resolution & 0x80 ? 2n ** exponent : 10n ** exponent;
        // ns = units * 1e9 / unitsPerSecond, reduced when exact so the common cases stay cheap.
        if (1_000_000_000n % unitsPerSecond === 0n) {
          multiplier = 1_000_000_000n / unitsPerSecond;
          divisor = 1n;
        } else if (unitsPerSecond % 1_000_000_000n === 0n) {
          multiplier = 1n;
          divisor = unitsPerSecond / 1_000_000_000n;
        } else {
          multiplier = 1_000_000_000n;
          divisor = unitsPerSecond;
        }
        plainMicroseconds = resolution === 6;
      } else if (code === OPTION_IF_TSOFFSET && size >= 8) {
        offsetNs = view.getBigInt64(p + 4, le) * 1_000_000_000n;
        if (offsetNs !== 0n) plainMicroseconds = false;
      }
      p += 4 + ((size + 3) & ~3);
    }
    plainMicroseconds &&= multiplier === 1000n && divisor === 1n && offsetNs === 0n;
    this.interfaces.push({ linkType, snaplen, multiplier, divisor, offsetNs, plainMicroseconds });
    return undefined;
  }

  private readEnhancedPacket(
    bytes: Uint8Array,
    view: DataView,
    at: number,
    length: number,
    offset: number,
  ): CaptureRecord {
    const le = this.littleEndian;
    const interfaceId = view.getUint32(at + 8, le);
    const high = view.getUint32(at + 12, le);
    const low = view.getUint32(at + 16, le);
    const capturedLength = view.getUint32(at + 20, le);
    const originalLength = view.getUint32(at + 24, le);
    return this.packet(
      "Enhanced Packet Block",
      bytes,
      at + 28,
      length - 32,
      interfaceId,
      high,
      low,
      capturedLength,
      originalLength,
      offset,
    );
  }

  private readObsoletePacket(
    bytes: Uint8Array,
    view: DataView,
    at: number,
    length: number,
    offset: number,
  ): CaptureRecord {
    const le = this.littleEndian;
    return this.packet(
      "Packet Block",
      bytes,
      at + 28,
      length - 32,
      view.getUint16(at + 8, le),
      view.getUint32(at + 12, le),
      view.getUint32(at + 16, le),
      view.getUint32(at + 20, le),
      view.getUint32(at + 24, le),
      offset,
    );
  }

  private readSimplePacket(
    bytes: Uint8Array,
    view: DataView,
    at: number,
    length: number,
    offset: number,
  ): CaptureRecord {
    const iface = this.interfaces[0];
    if (iface === undefined) {
      return errorRecord(
        "malformed",
        offset,
        `pcapng: Simple Packet Block at offset ${offset} comes before any Interface Description Block`,
      );
    }
    const originalLength = view.getUint32(at + 8, this.littleEndian);
    // No captured length field: it is the original length cut to the snaplen and the block.
    let capturedLength = Math.min(originalLength, length - 16);
    if (iface.snaplen !== 0) capturedLength = Math.min(capturedLength, iface.snaplen);
    return {
      kind: "packet",
      index: ++this.index,
      interfaceId: 0,
      linkType: iface.linkType,
      timestampNs: 0n,
      time: 0,
      capturedLength,
      originalLength,
      data: bytes.subarray(at + 12, at + 12 + capturedLength),
      offset,
    };
  }

  private packet(
    blockName: string,
    bytes: Uint8Array,
    dataStart: number,
    room: number,
    interfaceId: number,
    high: number,
    low: number,
    capturedLength: number,
    originalLength: number,
    offset: number,
  ): CaptureRecord {
    const iface = this.interfaces[interfaceId];
    if (iface === undefined) {
      return errorRecord(
        "malformed",
        offset,
        `pcapng: ${blockName} at offset ${offset} refers to interface ${interfaceId}, but the section has ${this.interfaces.length}`,
      );
    }
    if (capturedLength > room) {
      return errorRecord(
        "malformed",
        offset,
        `pcapng: ${blockName} at offset ${offset} claims captured length ${capturedLength}, but the block holds only ${room} bytes of data`,
      );
    }
    let timestampNs: bigint;
    if (iface.plainMicroseconds && high < 0x200000) {
      // Below 2^53 µs the 64-bit count is exact as a double: one BigInt conversion.
      timestampNs = BigInt(high * 4294967296 + low) * 1000n;
    } else {
      const units = (BigInt(high) << 32n) | BigInt(low);
      timestampNs = (units * iface.multiplier) / iface.divisor + iface.offsetNs;
    }
    return {
      kind: "packet",
      index: ++this.index,
      interfaceId,
      linkType: iface.linkType,
      timestampNs,
      time: Number(timestampNs) / 1e9,
      capturedLength,
      originalLength,
      data: bytes.subarray(dataStart, dataStart + capturedLength),
      offset,
    };
  }

  private readSecrets(
    bytes: Uint8Array,
    view: DataView,
    at: number,
    length: number,
    offset: number,
  ): CaptureRecord {
    const type = view.getUint32(at + 8, this.littleEndian);
    const secretsLength = view.getUint32(at + 12, this.littleEndian);
    if (secretsLength > length - 20) {
      return errorRecord(
        "malformed",
        offset,
        `pcapng: Decryption Secrets Block at offset ${offset} claims ${secretsLength} bytes of secrets, but the block holds only ${length - 20}`,
      );
    }
    const data = bytes.subarray(at + 16, at + 16 + secretsLength);
    return {
      kind: "secrets",
      type,
      data,
      text: TEXT_SECRETS.has(type) ? this.textDecoder.decode(data) : undefined,
      offset,
    };
  }
}
