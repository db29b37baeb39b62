/**
 * Writes log lines in wireguard-go's format (device/logger.go + the format strings of receive.go,
 * send.go, timers.go): what our model of wireguard-go would have logged, so its replays can be read
 * back by the same parser as a real log.
 */

export interface GoLogOptions {
  interface: string;
  /** The peer's short name as wireguard-go prints it (`AbCd…WxYz`, see `goPeerName`). */
  peer: string;
  /** The peer's endpoint, for the lines that name it ("… from 10.0.0.2:51820"). */
  peerEndpoint: string;
  /** Seconds since the epoch at time 0 of the lines. */
  epochSeconds: number;
  /** Put a microsecond Unix-time prefix in front of each line (like `ts '%.s'`). */
  unixPrefix?: boolean;
}

export interface ModelLogLine {
  /** Seconds since time 0. */
  time: number;
  level: "debug" | "error";
  /** The model's message, optionally behind its peer's name ("A: Sending handshake initiation"). */
  text: string;
}

/** Messages wireguard-go logs without the peer's name (the peer is not known yet or at all). */
const DEVICE_LEVEL = [
  /^Received invalid (initiation|response) message/,
  /^Received packet with invalid mac1/,
];

const two = (n: number) => String(n).padStart(2, "0");

export function goTimestamp(epochSeconds: number): string {
  const d = new Date(Math.floor(epochSeconds) * 1000);
  return `${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

export function formatWireGuardGoLine(line: ModelLogLine, o: GoLogOptions): string {
  let message = line.text.replace(/^[A-Za-z0-9_-]{1,16}: /, "");
  // The model says why an initiation was invalid and which state a derivation found; wireguard-go does not.
  message = message.replace(/^(Received invalid initiation message) \(.*\)$/, "$1");
  message = message.replace(
    /^(Failed to derive keypair: invalid state for keypair derivation): \w+$/,
    "$1",
  );
  const deviceLevel = DEVICE_LEVEL.some((p) => p.test(message));
  const body = deviceLevel
    ? `${message}${/ from /.test(message) || /mac1/.test(message) ? "" : ` from ${o.peerEndpoint}`}`
    : `peer(${o.peer}) - ${message}`;
  const at = o.epochSeconds + line.time;
  const level = line.level === "error" ? "ERROR" : "DEBUG";
  const text = `${level}: (${o.interface}) ${goTimestamp(at)} ${body}`;
  return o.unixPrefix ? `${at.toFixed(6)} ${text}` : text;
}

/** A whole log, one line each, newline-terminated. */
export function formatWireGuardGoLog(lines: readonly ModelLogLine[], o: GoLogOptions): string {
  return lines.map((l) => `${formatWireGuardGoLine(l, o)}\n`).join("");
}
