// Wireshark's WireGuard key log format (epan/dissectors/packet-wireguard.c): one `TYPE = base64`
// per line. The grammar is Wireshark's: spaces (not tabs) may lead the line and surround "=", and
// nothing may follow the key. Lines Wireshark would skip silently are errors here, so a key log that
// parses cleanly is one Wireshark reads completely.

import { keyToBase64, parseKey } from "./keys.js";

export const KEY_LOG_TYPES = [
  "LOCAL_STATIC_PRIVATE_KEY",
  "REMOTE_STATIC_PUBLIC_KEY",
  "LOCAL_EPHEMERAL_PRIVATE_KEY",
  "PRESHARED_KEY",
] as const;

export type KeyLogType = (typeof KEY_LOG_TYPES)[number];

export type KeyLogEntry =
  | {
      /** 1-based line number in the parsed text. */
      line: number;
      type: Exclude<KeyLogType, "PRESHARED_KEY">;
      key: Uint8Array;
    }
  | {
      line: number;
      type: "PRESHARED_KEY";
      key: Uint8Array;
      /**
       * Index in `entries` of the LOCAL_EPHEMERAL_PRIVATE_KEY this PSK belongs to: the latest one
       * before it not already claimed by a PSK, as Wireshark binds them. null when there is none;
       * Wireshark then ignores the PSK.
       */
      ephemeralIndex: number | null;
    };

export interface KeyLogError {
  line: number;
  message: string;
}

export interface ParsedKeyLog {
  entries: KeyLogEntry[];
  errors: KeyLogError[];
}

const TYPE_NAMES: ReadonlySet<string> = new Set(KEY_LOG_TYPES);

function isKeyLogType(text: string): text is KeyLogType {
  return TYPE_NAMES.has(text);
}

/** Parses a key log; never throws. Valid lines become entries even when other lines are wrong. */
export function parseKeyLog(text: string): ParsedKeyLog {
  const entries: KeyLogEntry[] = [];
  const errors: KeyLogError[] = [];
  // The latest ephemeral key entry a PSK may still bind to (Wireshark's wg_keylog_last_ekey).
  let pendingEphemeral: number | null = null;

  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    const raw = lines[i]!;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const parsed = parseLine(line);
    if (parsed === null) continue;
    if ("error" in parsed) {
      errors.push({ line: lineNumber, message: parsed.error });
      continue;
    }
    const { type, key } = parsed;
    if (type === "PRESHARED_KEY") {
      entries.push({ line: lineNumber, type, key, ephemeralIndex: pendingEphemeral });
      pendingEphemeral = null;
    } else {
      if (type === "LOCAL_EPHEMERAL_PRIVATE_KEY") pendingEphemeral = entries.length;
      entries.push({ line: lineNumber, type, key });
    }
  }
  return { entries, errors };
}

type ParsedLine = { type: KeyLogType; key: Uint8Array } | { error: string } | null;

/** One line without its line break: null for blank and comment lines. */
function parseLine(line: string): ParsedLine {
  const content = line.replace(/^ +/, "");
  if (content.trim() === "") return null;
  if (content.startsWith("#")) return null;
  if (/^\s/.test(content)) {
    return {
      error: "the line starts with whitespace other than spaces (Wireshark only skips spaces)",
    };
  }
  const equals = content.indexOf("=");
  if (equals === -1) return { error: "expected 'TYPE = base64-key'" };
  const typeText = content.slice(0, equals).replace(/ +$/, "");
  if (!isKeyLogType(typeText)) {
    const shown = typeText === "" ? "an empty key type" : `unknown key type '${typeText}'`;
    return { error: `${shown} (expected one of ${KEY_LOG_TYPES.join(", ")})` };
  }
  const value = content.slice(equals + 1).replace(/^ +/, "");
  if (value === "") return { error: `${typeText}: missing key` };
  if (/\s$/.test(value)) return { error: `${typeText}: whitespace after the key` };
  const key = parseKey(value);
  if (!key.ok) return { error: `${typeText}: ${key.error}` };
  return { type: typeText, key: key.key };
}

/** One key log line (without a line break). */
export function formatKeyLogLine(type: KeyLogType, key: Uint8Array): string {
  if (!isKeyLogType(type))
    throw new TypeError(`formatKeyLogLine: unknown key type '${String(type)}'`);
  return `${type} = ${keyToBase64(key, type)}`;
}
