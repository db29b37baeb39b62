/** A decoded message printed: tshark-style fields, Wireshark-keyed JSON and one line per message. */

import { Decoded, type DecodedMessage, TYPE_NAMES } from "./decoded-message.js";

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** 0x-prefixed 8-digit lowercase hex, as tshark prints wg.sender / wg.receiver. */
export function hex32(value: number): string {
  return (
    "0x" +
    HEX_BYTE[(value >>> 24) & 0xff]! +
    HEX_BYTE[(value >>> 16) & 0xff]! +
    HEX_BYTE[(value >>> 8) & 0xff]! +
    HEX_BYTE[value & 0xff]!
  );
}

/** Fields `fieldValue` can print, tshark-style (`-T fields -e …`). */
export const FIELD_NAMES = [
  "frame.number",
  "frame.time_epoch",
  "frame.time_relative",
  "ip.src",
  "ip.dst",
  "udp.srcport",
  "udp.dstport",
  "wg.type",
  "wg.sender",
  "wg.receiver",
  "wg.counter",
  "wg.ephemeral",
  "wg.static",
  "wg.timestamp.value",
  "wg.handshake_ok",
  "wg.receiver_pubkey",
  "wg.stream",
  "wg.response_to",
  "wg.keepalive",
  "inner",
] as const;

/** One field as tshark -T fields prints it ("" when absent; booleans as 1/0). */
export function fieldValue(m: DecodedMessage, name: string): string {
  switch (name) {
    case "frame.number":
      return String(m.frame);
    case "frame.time_epoch":
      return epochText(m.timestampNs);
    case "frame.time_relative":
      return m.time.toFixed(6);
    case "ip.src":
      return m.srcAddress;
    case "ip.dst":
      return m.dstAddress;
    case "udp.srcport":
      return String(m.srcPort);
    case "udp.dstport":
      return String(m.dstPort);
    case "wg.type":
      return TYPE_DIGITS[m.type]!;
    case "wg.sender":
      return m.sender === undefined ? "" : hex32(m.sender);
    case "wg.receiver":
      return m.receiver === undefined ? "" : hex32(m.receiver);
    case "wg.counter":
      return m.counter === undefined ? "" : m.counter.toString();
    case "wg.ephemeral":
      return m.ephemeral ?? "";
    case "wg.static":
      return m.static ?? "";
    case "wg.timestamp.value":
      return m.timestamp ? (tai64nToIso(m.timestamp) ?? "") : "";
    case "wg.handshake_ok":
      return m.handshakeOk === undefined ? "" : m.handshakeOk ? "1" : "0";
    case "wg.receiver_pubkey":
      return m.receiverPubkey ?? "";
    case "wg.stream":
      return m.stream === undefined ? "" : String(m.stream);
    case "wg.response_to":
      return m.responseTo === undefined ? "" : String(m.responseTo);
    case "wg.keepalive":
      return m.keepalive ? "1" : "";
    case "inner":
      return m.inner ?? "";
    default:
      return "";
  }
}

const TYPE_DIGITS = ["", "1", "2", "3", "4"];

/** A field printer bound once (no name dispatch per message), for tshark-style output. */
export function fieldGetter(name: string): (m: DecodedMessage) => string {
  switch (name) {
    case "wg.type":
      return (m) => TYPE_DIGITS[m.type]!;
    case "wg.sender":
      return (m) => (m.sender === undefined ? "" : hex32(m.sender));
    case "wg.receiver":
      return (m) => (m.receiver === undefined ? "" : hex32(m.receiver));
    case "wg.counter":
      return (m) =>
        m instanceof Decoded
          ? m.counterText()
          : m.counter === undefined
            ? ""
            : m.counter.toString();
    default:
      return (m) => fieldValue(m, name);
  }
}

/** TAI64N label + nanoseconds → ISO 8601 UTC with nanoseconds; undefined when out of range. */
export function tai64nToIso(t: { tai64Label: bigint; nanoseconds: number }): string | undefined {
  const base = 1n << 62n;
  if (t.tai64Label < base || t.tai64Label >= 1n << 63n || t.nanoseconds > 999_999_999)
    return undefined;
  const seconds = t.tai64Label - base;
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return undefined;
  return `${date.toISOString().slice(0, 19)}.${String(t.nanoseconds).padStart(9, "0")}Z`;
}

/** The record as an object keyed by Wireshark field names (what `--json` prints, one per line). */
export function toWiresharkFields(m: DecodedMessage): Record<string, unknown> {
  const ip = m.ipVersion === 4 ? "ip" : "ipv6";
  const o: Record<string, unknown> = {
    "frame.number": m.frame,
    "frame.time_epoch": epochText(m.timestampNs),
    "frame.time_relative": Number(m.time.toFixed(6)),
    [`${ip}.src`]: m.srcAddress,
    "udp.srcport": m.srcPort,
    [`${ip}.dst`]: m.dstAddress,
    "udp.dstport": m.dstPort,
    "wg.type": m.type,
    "wg.type.name": TYPE_NAMES[m.type],
    "udp.length": m.length + 8,
  };
  if (m.sender !== undefined) o["wg.sender"] = hex32(m.sender);
  if (m.receiver !== undefined) o["wg.receiver"] = hex32(m.receiver);
  if (m.counter !== undefined) {
    o["wg.counter"] =
      m.counter <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(m.counter) : m.counter.toString();
  }
  if (m.ephemeral !== undefined) o["wg.ephemeral"] = m.ephemeral;
  if (m.static !== undefined) o["wg.static"] = m.static;
  if (m.timestamp !== undefined) {
    const iso = tai64nToIso(m.timestamp);
    if (iso) o["wg.timestamp.value"] = iso;
    o["wg.timestamp.tai64_label"] = m.timestamp.tai64Label.toString();
    o["wg.timestamp.nanoseconds"] = m.timestamp.nanoseconds;
  }
  if (m.handshakeOk !== undefined) o["wg.handshake_ok"] = m.handshakeOk;
  if (m.receiverPubkey !== undefined) o["wg.receiver_pubkey"] = m.receiverPubkey;
  if (m.stream !== undefined) o["wg.stream"] = m.stream;
  if (m.responseTo !== undefined) o["wg.response_to"] = m.responseTo;
  if (m.keepalive) o["wg.keepalive"] = true;
  if (m.decrypted === false) o["wg.decryption_error"] = true;
  if (m.inner !== undefined) o.inner = m.inner;
  return o;
}

function epochText(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  return `${s}.${frac.toString().padStart(9, "0")}`;
}

function shortKey(key: string): string {
  return `${key.slice(0, 4)}…${key.slice(39, 43)}`;
}

/** One human-readable line per message. */
export function formatMessageLine(m: DecodedMessage): string {
  let line = `${String(m.frame).padStart(6)} ${m.time.toFixed(6).padStart(11)}  ${m.src} → ${m.dst}  ${TYPE_NAMES[m.type]}`;
  if (m.sender !== undefined) line += ` sender=${hex32(m.sender)}`;
  if (m.receiver !== undefined) line += ` receiver=${hex32(m.receiver)}`;
  if (m.counter !== undefined) line += ` counter=${m.counter}`;
  line += ` len=${m.length}`;
  if (m.static !== undefined) line += ` static=${shortKey(m.static)}`;
  if (m.timestamp !== undefined) line += ` ts=${tai64nToIso(m.timestamp) ?? "invalid"}`;
  if (m.handshakeOk !== undefined) line += ` handshake_ok=${m.handshakeOk ? 1 : 0}`;
  if (m.responseTo !== undefined && m.type !== 4) line += ` response_to=${m.responseTo}`;
  if (m.decrypted === false) line += " (decryption failed)";
  if (m.inner !== undefined) line += `  ${m.inner}`;
  else if (m.keepalive) line += "  keepalive";
  return line;
}
