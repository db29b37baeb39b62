import type { CaptureError } from "./errors.js";

/** One captured frame, from a pcap record or a pcapng EPB/SPB/PB. */
export interface PacketRecord {
  kind: "packet";
  /**
   * 1-based frame number, counted over the whole file as tshark counts `frame.number` (which
   * also counts pcapng custom and systemd-journal blocks, so numbers can skip).
   */
  index: number;
  /** pcapng interface id within its section; always 0 for pcap. */
  interfaceId: number;
  /** LINKTYPE_* value of the interface (FCS bits of a pcap header already masked off). */
  linkType: number;
  /** Nanoseconds since the Unix epoch (0n for a Simple Packet Block, which has no timestamp). */
  timestampNs: bigint;
  /** Seconds since the Unix epoch as a double (sub-microsecond precision is lost). */
  time: number;
  capturedLength: number;
  originalLength: number;
  /** The captured bytes: a view into the input, not a copy. */
  data: Uint8Array;
  /** Byte offset of the record/block in the file. */
  offset: number;
}

/** A pcapng Decryption Secrets Block. */
export interface SecretsRecord {
  kind: "secrets";
  /** Secrets type, e.g. SECRETS_TYPE_WIREGUARD (0x57474b4c). */
  type: number;
  data: Uint8Array;
  /** UTF-8 text of key-log style secrets (WireGuard, TLS, SSH); undefined for binary types. */
  text: string | undefined;
  offset: number;
}

/** The last item of a damaged capture. Nothing follows it. */
export interface ErrorRecord {
  kind: "error";
  error: CaptureError;
}

export type CaptureRecord = PacketRecord | SecretsRecord | ErrorRecord;

/** Decryption Secrets Block types from Wireshark's secrets-types.h. */
export const SECRETS_TYPE_TLS = 0x544c534b;
export const SECRETS_TYPE_SSH = 0x5353484b;
export const SECRETS_TYPE_WIREGUARD = 0x57474b4c;
