import {
  BLOCK_DECRYPTION_SECRETS,
  BLOCK_ENHANCED_PACKET,
  BLOCK_INTERFACE_DESCRIPTION,
  BLOCK_SECTION_HEADER,
  BYTE_ORDER_MAGIC,
  OPTION_IF_NAME,
  OPTION_IF_TSRESOL,
} from "./pcapng.js";
import { SECRETS_TYPE_WIREGUARD } from "./records.js";

const OPTION_COMMENT = 1;
const OPTION_SHB_USERAPPL = 4;
/** Blocks above this size would be refused by our own reader. */
const MAX_BLOCK = 16 * 1024 * 1024;

export interface SectionOptions {
  /** Byte order of the section (default little-endian). */
  littleEndian?: boolean;
  /** shb_userappl: the application that wrote the file. */
  userApplication?: string;
}

export interface InterfaceOptions {
  /** LINKTYPE_* value, e.g. 101 (raw IP) or 1 (Ethernet). */
  linkType: number;
  /** Largest captured length (default 262144). */
  snaplen?: number;
  /** if_name. */
  name?: string;
  /** Timestamp units (default "ns", written as if_tsresol = 9). */
  timestampResolution?: "ns" | "us";
}

export interface PacketToWrite {
  /** Interface id: its position among `addInterface` calls in this section (default 0). */
  interfaceId?: number;
  /** Nanoseconds since the Unix epoch. */
  timestampNs: bigint;
  data: Uint8Array;
  /** Length on the wire (default data.length). */
  originalLength?: number;
  /** opt_comment, shown by Wireshark as the packet comment. */
  comment?: string;
}

interface Option {
  code: number;
  value: Uint8Array;
}

/**
 * Incremental pcapng writer: every call returns the bytes to append, so captures can be
 * streamed to a file or socket. The Section Header Block is prepended to the first output.
 */
export class PcapngWriter {
  private littleEndian: boolean;
  private userApplication: string | undefined;
  private headerPending = true;
  private readonly resolutions: ("ns" | "us")[] = [];
  private readonly encoder = new TextEncoder();

  constructor(options: SectionOptions = {}) {
    this.littleEndian = options.littleEndian ?? true;
    this.userApplication = options.userApplication;
  }

  /** Interfaces declared in the current section. */
  get interfaceCount(): number {
    return this.resolutions.length;
  }

  /** Starts a new section (interface ids restart at 0); returns its Section Header Block. */
  startSection(options: SectionOptions = {}): Uint8Array {
    this.littleEndian = options.littleEndian ?? this.littleEndian;
    this.userApplication = options.userApplication ?? this.userApplication;
    this.resolutions.length = 0;
    this.headerPending = false;
    return this.sectionHeader();
  }

  /** Declares an interface; its id is the number of interfaces declared before it. */
  addInterface(options: InterfaceOptions): Uint8Array {
    const { linkType, snaplen = 262144, name, timestampResolution = "ns" } = options;
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
      throw new RangeError(`PcapngWriter.addInterface: linkType must be 0–65535, got ${linkType}`);
    }
    if (!Number.isInteger(snaplen) || snaplen < 0 || snaplen > 0xffffffff) {
      throw new RangeError(`PcapngWriter.addInterface: snaplen must be a u32, got ${snaplen}`);
    }
    if (timestampResolution !== "ns" && timestampResolution !== "us") {
      throw new RangeError(`PcapngWriter.addInterface: timestampResolution must be "ns" or "us"`);
    }
    const options_: Option[] = [];
    if (name !== undefined)
      options_.push({ code: OPTION_IF_NAME, value: this.encoder.encode(name) });
    if (timestampResolution === "ns") {
      options_.push({ code: OPTION_IF_TSRESOL, value: Uint8Array.of(9) });
    }
    this.resolutions.push(timestampResolution);
    return this.output(
      this.block(BLOCK_INTERFACE_DESCRIPTION, 8, undefined, options_, (view, at, le) => {
        view.setUint16(at, linkType, le);
        view.setUint32(at + 4, snaplen, le);
      }),
    );
  }

  /** An Enhanced Packet Block. */
  writePacket(packet: PacketToWrite): Uint8Array {
    const { interfaceId = 0, timestampNs, data, comment } = packet;
    const originalLength = packet.originalLength ?? data.length;
    const resolution = this.resolutions[interfaceId];
    if (resolution === undefined) {
      throw new RangeError(
        `PcapngWriter.writePacket: interface ${interfaceId} not declared (section has ${this.resolutions.length})`,
      );
    }
    if (!(data instanceof Uint8Array)) {
      throw new TypeError("PcapngWriter.writePacket: data must be a Uint8Array");
    }
    if (typeof timestampNs !== "bigint" || timestampNs < 0n || timestampNs >= 1n << 64n) {
      throw new RangeError("PcapngWriter.writePacket: timestampNs must be a bigint in [0, 2^64)");
    }
    if (
      !Number.isInteger(originalLength) ||
      originalLength < data.length ||
      originalLength > 0xffffffff
    ) {
      throw new RangeError(
        `PcapngWriter.writePacket: originalLength ${originalLength} must be a u32 ≥ data.length (${data.length})`,
      );
    }
    const units = resolution === "ns" ? timestampNs : timestampNs / 1000n;
    const high = Number(units >> 32n);
    const low = Number(units & 0xffffffffn);
    const options_: Option[] =
      comment === undefined ? [] : [{ code: OPTION_COMMENT, value: this.encoder.encode(comment) }];
    return this.output(
      this.block(BLOCK_ENHANCED_PACKET, 20, data, options_, (view, at, le) => {
        view.setUint32(at, interfaceId, le);
        view.setUint32(at + 4, high, le);
        view.setUint32(at + 8, low, le);
        view.setUint32(at + 12, data.length, le);
        view.setUint32(at + 16, originalLength, le);
      }),
    );
  }

  /** A Decryption Secrets Block. Write it before the packets it decrypts. */
  writeSecrets(type: number, data: Uint8Array): Uint8Array {
    if (!Number.isInteger(type) || type < 0 || type > 0xffffffff) {
      throw new RangeError(`PcapngWriter.writeSecrets: type must be a u32, got ${type}`);
    }
    return this.output(
      this.block(BLOCK_DECRYPTION_SECRETS, 8, data, [], (view, at, le) => {
        view.setUint32(at, type, le);
        view.setUint32(at + 4, data.length, le);
      }),
    );
  }

  /** A Decryption Secrets Block holding a Wireshark-format WireGuard key log. */
  writeWireGuardKeyLog(keyLog: string): Uint8Array {
    return this.writeSecrets(SECRETS_TYPE_WIREGUARD, this.encoder.encode(keyLog));
  }

  private sectionHeader(): Uint8Array {
    const options_: Option[] = [];
    if (this.userApplication !== undefined) {
      options_.push({
        code: OPTION_SHB_USERAPPL,
        value: this.encoder.encode(this.userApplication),
      });
    }
    return this.block(BLOCK_SECTION_HEADER, 16, undefined, options_, (view, at, le) => {
      view.setUint32(at, BYTE_ORDER_MAGIC, le);
      view.setUint16(at + 4, 1, le);
      view.setUint16(at + 6, 0, le);
      view.setBigInt64(at + 8, -1n, le); // section length not known in advance
    });
  }

  private output(block: Uint8Array): Uint8Array {
    if (!this.headerPending) return block;
    this.headerPending = false;
    const header = this.sectionHeader();
    const both = new Uint8Array(header.length + block.length);
    both.set(header);
    both.set(block, header.length);
    return both;
  }

  /** type, length, fixed fields, data padded to 4, options (+ opt_endofopt), length. */
  private block(
    type: number,
    fixedLength: number,
    data: Uint8Array | undefined,
    options: Option[],
    fill: (view: DataView, at: number, littleEndian: boolean) => void,
  ): Uint8Array {
    const dataLength = data === undefined ? 0 : pad4(data.length);
    let optionsLength = 0;
    for (const option of options) optionsLength += 4 + pad4(option.value.length);
    if (optionsLength > 0) optionsLength += 4;
    const total = 12 + fixedLength + dataLength + optionsLength;
    if (total > MAX_BLOCK) {
      throw new RangeError(`PcapngWriter: block of ${total} bytes exceeds the 16 MiB limit`);
    }
    const bytes = new Uint8Array(total);
    const view = new DataView(bytes.buffer);
    const le = this.littleEndian;
    view.setUint32(0, type, le);
    view.setUint32(4, total, le);
    fill(view, 8, le);
    let p = 8 + fixedLength;
    if (data !== undefined) {
      bytes.set(data, p);
      p += dataLength;
    }
    for (const option of options) {
      if (option.value.length > 0xffff) {
        throw new RangeError(`PcapngWriter: option ${option.code} longer than 65535 bytes`);
      }
      view.setUint16(p, option.code, le);
      view.setUint16(p + 2, option.value.length, le);
      bytes.set(option.value, p + 4);
      p += 4 + pad4(option.value.length);
    }
    // opt_endofopt is the zeroed 4 bytes already in place.
    view.setUint32(total - 4, total, le);
    return bytes;
  }
}

function pad4(length: number): number {
  return (length + 3) & ~3;
}
