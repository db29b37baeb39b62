/**
 * wireguard-go's logger (device/logger.go): `LEVEL: (IFACE) YYYY/MM/DD hh:mm:ss MESSAGE`, Go's
 * `log.Ldate|log.Ltime` stamp in the machine's local time, whole seconds. Per-peer messages start
 * with the peer's `String()`, `peer(AbCd…WxYz) - ` (the first 4 and the 40th–43rd characters of
 * its base64 public key). The messages below are the format strings of device/receive.go, send.go,
 * timers.go and noise-protocol.go (0.0.2022x).
 */
import type { LogEventKind } from "./log-event.js";

const LINE =
  /^(DEBUG|INFO|ERROR): \(([^)]{1,64})\) (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) (.*)$/;
const PEER = /^peer\(([A-Za-z0-9+/]{4}…[A-Za-z0-9+/=]{1,4})\) - /;

type Field = "endpoint" | "detail" | "number" | "peer";
const MESSAGES: readonly [RegExp, LogEventKind, ...Field[]][] = [
  [/^Sending handshake initiation$/, "initiation-sent"],
  [/^Received handshake initiation$/, "initiation-received"],
  [/^Sending handshake response$/, "response-sent"],
  [/^Received handshake response$/, "response-received"],
  [/^Received invalid initiation message from (.+)$/, "initiation-invalid", "endpoint"],
  [/^Received invalid response message from (.+)$/, "response-invalid", "endpoint"],
  [/^Failed to create response message: (.*)$/, "response-create-failed", "detail"],
  [/^Failed to derive keypair: (.*)$/, "keypair-derive-failed", "detail"],
  [/^Failed to create initiation message: (.*)$/, "initiation-create-failed", "detail"],
  [/^Handshake did not complete after \d+ seconds, retrying \(try (\d+)\)$/, "retry", "number"],
  [/^Handshake did not complete after (\d+) attempts, giving up$/, "gave-up", "number"],
  [
    /^Retrying handshake because we stopped hearing back after (\d+) seconds$/,
    "stopped-hearing",
    "number",
  ],
  [
    /^Removing all keys, since we haven't received a new one in (\d+) seconds$/,
    "keys-zeroed",
    "number",
  ],
  [/^Sending keepalive packet$/, "keepalive-sent"],
  [/^Receiving keepalive packet$/, "keepalive-received"],
  [/^Sending cookie response for denied handshake message for (.+)$/, "cookie-sent", "endpoint"],
  [/^Receiving cookie response from (.+)$/, "cookie-received", "endpoint"],
  [/^Received packet with invalid mac1$/, "invalid-mac"],
  [/^ConsumeMessageInitiation: handshake replay @ (.+)$/, "handshake-replay", "detail"],
  [/^ConsumeMessageInitiation: handshake flood$/, "handshake-flood"],
];

export interface GoLine {
  level: "debug" | "info" | "error";
  interface: string;
  /** Seconds since the epoch, reading the stamp as UTC. */
  seconds: number;
  year: number;
  message: string;
  /** Undefined: a wireguard-go line that is not about the handshake (start-up, UAPI, …). */
  kind?: LogEventKind;
  peer?: string;
  endpoint?: string;
  detail?: string;
  number?: number;
}

export function parseWireGuardGoLine(text: string): GoLine | undefined {
  const m = LINE.exec(text);
  if (!m) return undefined;
  const [, level, iface, y, mo, d, h, mi, s, rest] = m as unknown as string[];
  const year = Number(y);
  const line: GoLine = {
    level: level!.toLowerCase() as GoLine["level"],
    interface: iface!,
    seconds: Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000,
    year,
    message: rest!,
  };
  let message = rest!;
  const p = PEER.exec(message);
  if (p) {
    line.peer = p[1]!;
    message = message.slice(p[0].length);
  }
  for (const [pattern, kind, ...fields] of MESSAGES) {
    const found = pattern.exec(message);
    if (!found) continue;
    line.kind = kind;
    fields.forEach((field, i) => {
      const value = found[i + 1]!;
      if (field === "number") line.number = Number(value);
      else if (field === "endpoint") line.endpoint = value;
      else if (field === "detail") line.detail = value;
    });
    break;
  }
  return line;
}

/** wireguard-go's short form of a base64 public key, as in `peer(AbCd…WxYz)`. */
export function goPeerName(base64Key: string): string {
  return `${base64Key.slice(0, 4)}…${base64Key.slice(39, 43)}`;
}
