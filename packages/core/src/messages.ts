/**
 * WireGuard wire format: strict decoding of the four message types and their encoders.
 * Decoding never throws on peer bytes: it returns a typed rejection with a reason.
 * Decoded fields are views into the datagram (no copies) — copy before keeping them.
 */

import { abytes } from "./validate.js";

export const MessageType = {
  Initiation: 1,
  Response: 2,
  CookieReply: 3,
  TransportData: 4,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const INITIATION_SIZE = 148;
export const RESPONSE_SIZE = 92;
export const COOKIE_REPLY_SIZE = 64;
export const TRANSPORT_HEADER_SIZE = 16;
export const AEAD_TAG_SIZE = 16;
export const TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + AEAD_TAG_SIZE;
/** Largest UDP payload; a bigger "datagram" cannot be a WireGuard message. */
export const MAX_DATAGRAM_SIZE = 65535;

export interface Initiation {
  type: 1;
  sender: number;
  ephemeral: Uint8Array;
  encryptedStatic: Uint8Array;
  encryptedTimestamp: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
  /** The whole message; mac1 covers bytes [0, 116), mac2 covers [0, 132). */
  bytes: Uint8Array;
}

export interface Response {
  type: 2;
  sender: number;
  receiver: number;
  ephemeral: Uint8Array;
  encryptedNothing: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
  bytes: Uint8Array;
}

export interface CookieReply {
  type: 3;
  receiver: number;
  nonce: Uint8Array;
  encryptedCookie: Uint8Array;
  bytes: Uint8Array;
}

export interface TransportData {
  type: 4;
  receiver: number;
  counter: bigint;
  /** Ciphertext including the 16-byte tag. */
  encrypted: Uint8Array;
  bytes: Uint8Array;
}

export type Message = Initiation | Response | CookieReply | TransportData;

export type RejectReason =
  | "empty"
  | "unknown-type"
  | "reserved-nonzero"
  | "bad-length"
  | "too-large";

export interface Rejection {
  ok: false;
  reason: RejectReason;
  detail: string;
}

export type DecodeResult = { ok: true; message: Message } | Rejection;

const EXPECTED_SIZE: Record<number, number> = {
  1: INITIATION_SIZE,
  2: RESPONSE_SIZE,
  3: COOKIE_REPLY_SIZE,
};

function reject(reason: RejectReason, detail: string): Rejection {
  return { ok: false, reason, detail };
}

function u32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! |
      (bytes[offset + 1]! << 8) |
      (bytes[offset + 2]! << 16) |
      (bytes[offset + 3]! << 24)) >>>
    0
  );
}

/** Checks type, reserved bytes and length only; cheap enough for a relay's per-datagram filter. */
export function checkShape(bytes: Uint8Array): Rejection | MessageType {
  if (bytes.length === 0) return reject("empty", "empty datagram");
  if (bytes.length > MAX_DATAGRAM_SIZE) {
    return reject("too-large", `${bytes.length} bytes is larger than a UDP datagram`);
  }
  const type = bytes[0]!;
  if (type < 1 || type > 4) return reject("unknown-type", `unknown message type ${type}`);
  if (bytes.length < 4) {
    return reject("bad-length", `${bytes.length} bytes is shorter than the 4-byte message header`);
  }
  if (bytes[1] !== 0 || bytes[2] !== 0 || bytes[3] !== 0) {
    return reject("reserved-nonzero", `type ${type}: reserved bytes must be zero`);
  }
  const expected = EXPECTED_SIZE[type];
  if (expected !== undefined) {
    if (bytes.length !== expected) {
      return reject("bad-length", `type ${type} must be ${expected} bytes, got ${bytes.length}`);
    }
  } else if (bytes.length < TRANSPORT_MIN_SIZE) {
    // Not necessarily a multiple of 16: padding stops at the MTU, so a packet of exactly MTU bytes
    // (e.g. 1420) is sent unpadded. wireguard-go and the kernel check only the minimum size.
    return reject(
      "bad-length",
      `transport data must be at least ${TRANSPORT_MIN_SIZE} bytes, got ${bytes.length}`,
    );
  }
  return type as MessageType;
}

/** Decodes one datagram into a typed message view, or says precisely why it is not one. */
export function decodeMessage(bytes: Uint8Array): DecodeResult {
  const shape = checkShape(bytes);
  if (typeof shape !== "number") return shape;
  switch (shape) {
    case 1:
      return {
        ok: true,
        message: {
          type: 1,
          sender: u32(bytes, 4),
          ephemeral: bytes.subarray(8, 40),
          encryptedStatic: bytes.subarray(40, 88),
          encryptedTimestamp: bytes.subarray(88, 116),
          mac1: bytes.subarray(116, 132),
          mac2: bytes.subarray(132, 148),
          bytes,
        },
      };
    case 2:
      return {
        ok: true,
        message: {
          type: 2,
          sender: u32(bytes, 4),
          receiver: u32(bytes, 8),
          ephemeral: bytes.subarray(12, 44),
          encryptedNothing: bytes.subarray(44, 60),
          mac1: bytes.subarray(60, 76),
          mac2: bytes.subarray(76, 92),
          bytes,
        },
      };
    case 3:
      return {
        ok: true,
        message: {
          type: 3,
          receiver: u32(bytes, 4),
          nonce: bytes.subarray(8, 32),
          encryptedCookie: bytes.subarray(32, 64),
          bytes,
        },
      };
    case 4:
      return { ok: true, message: decodeTransportData(bytes) };
  }
}

/**
 * Transport data from bytes that {@link checkShape} found to be type 4: the per-packet decode,
 * without the result wrapper (and without a `DataView` for the counter).
 */
export function decodeTransportData(bytes: Uint8Array): TransportData {
  const low = u32(bytes, 8);
  const high = u32(bytes, 12);
  return {
    type: 4,
    receiver: u32(bytes, 4),
    // Below 2^53 the counter is exact as a Number: one BigInt made instead of three.
    counter:
      high < 0x20_0000 ? BigInt(high * 0x1_0000_0000 + low) : (BigInt(high) << 32n) | BigInt(low),
    encrypted: bytes.subarray(TRANSPORT_HEADER_SIZE),
    bytes,
  };
}

/** Offset of mac1 in a handshake message (mac1 covers everything before it). */
export function mac1Offset(bytes: Uint8Array): number {
  return bytes.length - 32;
}

function writeU32(out: Uint8Array, offset: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`index: ${value} is not a 32-bit unsigned integer`);
  }
  out[offset] = value & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
  out[offset + 2] = (value >>> 16) & 0xff;
  out[offset + 3] = value >>> 24;
}

function put(out: Uint8Array, offset: number, field: string, value: Uint8Array, size: number) {
  out.set(abytes(value, size, field), offset);
}

/** Initiation without macs (they are computed over the encoded bytes afterwards). */
export function encodeInitiation(f: {
  sender: number;
  ephemeral: Uint8Array;
  encryptedStatic: Uint8Array;
  encryptedTimestamp: Uint8Array;
}): Uint8Array {
  const out = new Uint8Array(INITIATION_SIZE);
  out[0] = MessageType.Initiation;
  writeU32(out, 4, f.sender);
  put(out, 8, "ephemeral", f.ephemeral, 32);
  put(out, 40, "encryptedStatic", f.encryptedStatic, 48);
  put(out, 88, "encryptedTimestamp", f.encryptedTimestamp, 28);
  return out;
}

export function encodeResponse(f: {
  sender: number;
  receiver: number;
  ephemeral: Uint8Array;
  encryptedNothing: Uint8Array;
}): Uint8Array {
  const out = new Uint8Array(RESPONSE_SIZE);
  out[0] = MessageType.Response;
  writeU32(out, 4, f.sender);
  writeU32(out, 8, f.receiver);
  put(out, 12, "ephemeral", f.ephemeral, 32);
  put(out, 44, "encryptedNothing", f.encryptedNothing, 16);
  return out;
}

export function encodeCookieReply(f: {
  receiver: number;
  nonce: Uint8Array;
  encryptedCookie: Uint8Array;
}): Uint8Array {
  const out = new Uint8Array(COOKIE_REPLY_SIZE);
  out[0] = MessageType.CookieReply;
  writeU32(out, 4, f.receiver);
  put(out, 8, "nonce", f.nonce, 24);
  put(out, 32, "encryptedCookie", f.encryptedCookie, 32);
  return out;
}

/** Transport header followed by the ciphertext (which already includes its tag). */
export function encodeTransportData(
  receiver: number,
  counter: bigint,
  encrypted: Uint8Array,
): Uint8Array {
  if (encrypted.length < AEAD_TAG_SIZE) {
    throw new RangeError(`encrypted: at least ${AEAD_TAG_SIZE} bytes expected`);
  }
  const out = new Uint8Array(TRANSPORT_HEADER_SIZE + encrypted.length);
  writeTransportHeader(out, receiver, counter);
  out.set(encrypted, TRANSPORT_HEADER_SIZE);
  return out;
}

/**
 * Writes a transport data header (type, receiver, counter) into the first 16 bytes of `out`, for
 * a message whose encrypted part is sealed behind it in place.
 */
export function writeTransportHeader(out: Uint8Array, receiver: number, counter: bigint): void {
  if (out.length < TRANSPORT_MIN_SIZE) {
    throw new RangeError(`transport data: at least ${TRANSPORT_MIN_SIZE} bytes expected`);
  }
  out[0] = MessageType.TransportData;
  writeU32(out, 4, receiver);
  if (typeof counter !== "bigint" || counter < 0n || counter > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`counter: ${String(counter)} is not a 64-bit unsigned integer`);
  }
  // Two 32-bit halves: cheaper per packet than a DataView over the new buffer. Below 2^53 they
  // come from a Number (no BigInt arithmetic, which allocates).
  const value = Number(counter);
  if (value <= Number.MAX_SAFE_INTEGER) {
    writeU32(out, 8, value % 0x1_0000_0000);
    writeU32(out, 12, Math.floor(value / 0x1_0000_0000));
  } else {
    writeU32(out, 8, Number(counter & 0xffff_ffffn));
    writeU32(out, 12, Number(counter >> 32n));
  }
}
