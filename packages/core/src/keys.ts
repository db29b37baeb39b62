import type { CryptoBackend, RandomSource } from "./crypto/types.js";
import { abytes } from "./validate.js";

export const KEY_LENGTH = 32;
/** A 32-byte key is 43 base64 characters plus one "=" of padding. */
const KEY_BASE64_LENGTH = 44;

export type ParsedKey = { ok: true; key: Uint8Array } | { ok: false; error: string };

// Standard base64 (RFC 4648 §4, with padding) without Buffer, so it also runs in browsers.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Value of each base64 character by char code; -1 for characters outside the alphabet. */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out +=
      ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + "==";
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + "=";
  }
  return out;
}

/** 6-bit value of the character at `index`, or -1 when it is not in the base64 alphabet. */
function base64Value(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? VALUES[code]! : -1;
}

function describe(char: string): string {
  const code = char.codePointAt(0)!;
  return code >= 0x21 && code <= 0x7e ? `"${char}"` : `U+${code.toString(16).padStart(4, "0")}`;
}

/**
 * Parses a WireGuard key as `wg` prints it (standard base64, 44 characters, 32 bytes) without
 * throwing: for text from configs, forms and the network. Like wireguard-tools it rejects
 * non-canonical encodings whose unused trailing bits are set.
 */
export function parseKey(text: unknown): ParsedKey {
  if (typeof text !== "string")
    return { ok: false, error: `expected a string, got ${typeof text}` };
  if (text.length !== KEY_BASE64_LENGTH) {
    return {
      ok: false,
      error: `expected ${KEY_BASE64_LENGTH} base64 characters, got ${text.length}`,
    };
  }
  if (text[KEY_BASE64_LENGTH - 1] !== "=") {
    return { ok: false, error: `expected "=" padding at position 43, got ${describe(text[43]!)}` };
  }
  const key = new Uint8Array(KEY_LENGTH);
  let bits = 0;
  let bitCount = 0;
  let written = 0;
  for (let i = 0; i < KEY_BASE64_LENGTH - 1; i++) {
    const value = base64Value(text, i);
    if (value < 0) {
      return {
        ok: false,
        error: `invalid base64 character ${describe(text[i]!)} at position ${i}`,
      };
    }
    bits = ((bits << 6) | value) & 0xffff;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      key[written++] = bits >> bitCount;
      bits &= (1 << bitCount) - 1;
    }
  }
  // 43 characters carry 258 bits: the last 2 must be zero in a canonical encoding.
  if (bits !== 0) {
    return { ok: false, error: "non-canonical base64: the last character's unused bits are set" };
  }
  return { ok: true, key };
}

/** Decodes a WireGuard key; throws a TypeError prefixed with `label` when the text is not one. */
export function keyFromBase64(text: string, label = "WireGuard key"): Uint8Array {
  const parsed = parseKey(text);
  if (!parsed.ok) throw new TypeError(`${label}: ${parsed.error}`);
  return parsed.key;
}

/** Encodes a 32-byte key as `wg` prints it. */
export function keyToBase64(key: Uint8Array, label = "WireGuard key"): string {
  abytes(key, KEY_LENGTH, label);
  return encodeBase64(key);
}

/** A fresh Curve25519 private key, clamped like `wg genkey` (RFC 7748 §5). */
export function generatePrivateKey(random: RandomSource): Uint8Array {
  const bytes = abytes(random(KEY_LENGTH), KEY_LENGTH, "random source");
  const key = Uint8Array.from(bytes);
  key[0]! &= 248;
  key[31] = (key[31]! & 127) | 64;
  return key;
}

/** The public key `wg pubkey` would print for `privateKey`. */
export function publicKey(backend: CryptoBackend, privateKey: Uint8Array): Uint8Array {
  abytes(privateKey, KEY_LENGTH, "private key");
  return backend.x25519Public(privateKey);
}
