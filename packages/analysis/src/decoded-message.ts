/** One WireGuard message as the decoder returns it: Wireshark's fields, with and without keys. */

import type { MessageType } from "@wiregate/core";

export type { MessageType };
export const TYPE_NAMES: Record<MessageType, string> = {
  1: "initiation",
  2: "response",
  3: "cookie-reply",
  4: "transport",
};

/** One WireGuard message as decoded (and, with keys, decrypted). */
export interface DecodedMessage {
  /** frame.number */
  frame: number;
  /** Capture timestamp, ns since the Unix epoch. */
  timestampNs: bigint;
  /** Seconds since the first frame of the capture (frame.time_relative). */
  time: number;
  ipVersion: 4 | 6;
  srcAddress: string;
  srcPort: number;
  dstAddress: string;
  dstPort: number;
  /** "addr:port" ("[v6]:port"). */
  src: string;
  dst: string;
  type: MessageType;
  /** Length of the WireGuard message (the UDP payload). */
  length: number;
  sender?: number;
  receiver?: number;
  counter?: bigint;
  /** wg.ephemeral (base64), initiations and responses. */
  ephemeral?: string;
  /** wg.static: the initiator's static public key, decrypted from an initiation. */
  static?: string;
  /** Decrypted TAI64N timestamp of an initiation. */
  timestamp?: { tai64Label: bigint; nanoseconds: number };
  /** wg.handshake_ok: on responses whose initiation had decryptable key material. */
  handshakeOk?: boolean;
  /** wg.receiver_pubkey: the receiver's static key, found by mac1. */
  receiverPubkey?: string;
  /** wg.stream: the session this message belongs to. */
  stream?: number;
  /** wg.response_to: frame of the initiation a response or cookie reply answers. */
  responseTo?: number;
  /** Transport data of exactly 32 bytes (wg.keepalive). */
  keepalive?: boolean;
  /** Transport: true decrypted, false decryption failed (wg.decryption_error), absent: no keys. */
  decrypted?: boolean;
  /** One-line summary of the decrypted inner packet ("keepalive" for an empty one). */
  inner?: string;
  /** Decrypted inner packet (only with `keepPlaintext`). */
  plaintext?: Uint8Array;
  /** The WireGuard message bytes (only with `keepPayload`). */
  payload?: Uint8Array;
}

export /** A decoded message; `src` / `dst` text is built only when asked for (not on the hot path). */
class Decoded implements DecodedMessage {
  declare sender?: number;
  declare receiver?: number;
  declare ephemeral?: string;
  declare static?: string;
  declare timestamp?: { tai64Label: bigint; nanoseconds: number };
  declare handshakeOk?: boolean;
  declare receiverPubkey?: string;
  declare stream?: number;
  declare responseTo?: number;
  declare keepalive?: boolean;
  declare decrypted?: boolean;
  declare inner?: string;
  declare plaintext?: Uint8Array;
  declare payload?: Uint8Array;
  /** Transport counter halves (-1: not transport); the bigint is made only when asked for. */
  counterLow = -1;
  counterHigh = 0;
  #src: string | undefined;
  #dst: string | undefined;
  constructor(
    readonly frame: number,
    readonly timestampNs: bigint,
    readonly time: number,
    readonly ipVersion: 4 | 6,
    readonly srcAddress: string,
    readonly srcPort: number,
    readonly dstAddress: string,
    readonly dstPort: number,
    readonly type: MessageType,
    readonly length: number,
  ) {}
  get counter(): bigint | undefined {
    if (this.counterLow < 0) return undefined;
    return this.counterHigh === 0
      ? BigInt(this.counterLow)
      : (BigInt(this.counterHigh) << 32n) | BigInt(this.counterLow);
  }
  /** The counter as decimal text, without a bigint when it fits in 32 bits. */
  counterText(): string {
    if (this.counterLow < 0) return "";
    return this.counterHigh === 0 ? String(this.counterLow) : this.counter!.toString();
  }
  get src(): string {
    this.#src ??= endpointText(this.srcAddress, this.srcPort);
    return this.#src;
  }
  get dst(): string {
    this.#dst ??= endpointText(this.dstAddress, this.dstPort);
    return this.#dst;
  }
}

export function endpointText(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
