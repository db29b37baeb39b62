import {
  COOKIE_REPLY_SIZE,
  checkShape,
  INITIATION_SIZE,
  MessageType,
  RESPONSE_SIZE,
  TRANSPORT_MIN_SIZE,
} from "@wiregate/core";
import type { Endpoint } from "./decoded.js";
import type { UdpDecoder } from "./decoder.js";
import type { PacketRecord } from "./records.js";

// Message types and sizes are core's (messages.ts); these names stay for existing callers.
export const WG_HANDSHAKE_INITIATION = MessageType.Initiation;
export const WG_HANDSHAKE_RESPONSE = MessageType.Response;
export const WG_COOKIE_REPLY = MessageType.CookieReply;
export const WG_TRANSPORT_DATA = MessageType.TransportData;

export type WireGuardMessageType = MessageType;

/**
 * Exact sizes of the fixed-size messages. Transport data is only ≥ 32: padding stops at the MTU,
 * so full-size packets need not be a multiple of 16 (Wireshark's heuristic checks the same).
 */
export const WG_MESSAGE_LENGTHS = {
  1: INITIATION_SIZE,
  2: RESPONSE_SIZE,
  3: COOKIE_REPLY_SIZE,
} as const;
export const WG_TRANSPORT_MINIMUM_LENGTH = TRANSPORT_MIN_SIZE;

export type WireGuardDetection =
  | { ok: true; type: WireGuardMessageType }
  | { ok: false; reason: string };

// Shared results: detection allocates nothing for real WireGuard traffic.
const DETECTED: readonly WireGuardDetection[] = [1, 2, 3, 4].map((type) =>
  Object.freeze({ ok: true as const, type: type as WireGuardMessageType }),
);

/** Recognises a WireGuard message by structure alone (core's `checkShape`): type, zero reserved bytes, length. */
export function detectWireGuard(payload: Uint8Array): WireGuardDetection {
  const shape = checkShape(payload);
  if (typeof shape === "object") return { ok: false, reason: shape.detail };
  return DETECTED[shape - 1]!;
}

/** The cleartext header fields of a WireGuard message (indices as little-endian u32). */
export type WireGuardHeader =
  | { type: 1; length: number; sender: number }
  | { type: 2; length: number; sender: number; receiver: number }
  | { type: 3; length: number; receiver: number }
  | { type: 4; length: number; receiver: number; counter: bigint };

/** Reads the header of a message `detectWireGuard` accepts; undefined for anything else. */
export function readWireGuardHeader(payload: Uint8Array): WireGuardHeader | undefined {
  const detection = detectWireGuard(payload);
  if (!detection.ok) return undefined;
  const length = payload.length;
  switch (detection.type) {
    case 1:
      return { type: 1, length, sender: u32le(payload, 4) };
    case 2:
      return { type: 2, length, sender: u32le(payload, 4), receiver: u32le(payload, 8) };
    case 3:
      return { type: 3, length, receiver: u32le(payload, 4) };
    case 4: {
      const low = u32le(payload, 8);
      const high = u32le(payload, 12);
      const counter = high === 0 ? BigInt(low) : (BigInt(high) << 32n) | BigInt(low);
      return { type: 4, length, receiver: u32le(payload, 4), counter };
    }
  }
}

function u32le(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
  );
}

/** A WireGuard message found in a capture. */
export interface WireGuardMessage {
  kind: "wireguard";
  /** Frame number (as tshark's frame.number). */
  index: number;
  timestampNs: bigint;
  time: number;
  ipVersion: 4 | 6;
  src: Endpoint;
  dst: Endpoint;
  header: WireGuardHeader;
  /** The whole WireGuard message (the UDP payload). */
  payload: Uint8Array;
  /** True when the datagram was rebuilt from IP fragments. */
  reassembled: boolean;
}

/** Packet record → WireGuard message, or undefined when the frame carries none. */
export function extractWireGuard(
  record: PacketRecord,
  decoder: UdpDecoder,
): WireGuardMessage | undefined {
  const decoded = decoder.decodeRecord(record);
  if (decoded.kind !== "udp") return undefined;
  const header = readWireGuardHeader(decoded.payload);
  if (header === undefined) return undefined;
  return {
    kind: "wireguard",
    index: record.index,
    timestampNs: record.timestampNs,
    time: record.time,
    ipVersion: decoded.ipVersion,
    src: decoded.src,
    dst: decoded.dst,
    header,
    payload: decoded.payload,
    reassembled: decoded.reassembled,
  };
}
