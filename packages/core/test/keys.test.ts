import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  generatePrivateKey,
  keyFromBase64,
  keyToBase64,
  parseKey,
  publicKey,
} from "../src/keys.js";
import { backendsUnderTest, toHex } from "./crypto-backends.js";

const KNOWN_KEY = "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";

function wg(args: string[], input?: string): string {
  // No fallback on purpose: a missing `wg` binary must fail the test, not skip it.
  return execFileSync("wg", args, { input, encoding: "utf8" }).trim();
}

describe("base64 keys", () => {
  it("round-trips any 32 bytes exactly like Buffer's base64", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const text = keyToBase64(key);
        expect(text).toBe(Buffer.from(key).toString("base64"));
        expect(keyFromBase64(text)).toEqual(key);
        expect(parseKey(text)).toEqual({ ok: true, key });
      }),
      { numRuns: 200 },
    );
  });

  it("decodes a known key to the bytes Buffer decodes", () => {
    expect(toHex(keyFromBase64(KNOWN_KEY))).toBe(Buffer.from(KNOWN_KEY, "base64").toString("hex"));
  });

  it.each([
    ["", "expected 44 base64 characters, got 0"],
    [KNOWN_KEY.slice(0, 43), "expected 44 base64 characters, got 43"],
    [`${KNOWN_KEY}=`, "expected 44 base64 characters, got 45"],
    [`${KNOWN_KEY.slice(0, 43)}A`, 'expected "=" padding at position 43, got "A"'],
    [`${KNOWN_KEY.slice(0, 42)}==`, 'invalid base64 character "=" at position 42'],
    [`-${KNOWN_KEY.slice(1)}`, 'invalid base64 character "-" at position 0'],
    [
      `${KNOWN_KEY.slice(0, 10)}_${KNOWN_KEY.slice(11)}`,
      'invalid base64 character "_" at position 10',
    ],
    [
      `${KNOWN_KEY.slice(0, 5)} ${KNOWN_KEY.slice(6)}`,
      "invalid base64 character U+0020 at position 5",
    ],
    [
      `${KNOWN_KEY.slice(0, 5)}é${KNOWN_KEY.slice(6)}`,
      "invalid base64 character U+00e9 at position 5",
    ],
    // The 43rd character's low 2 bits fall past byte 32 and must be zero: "n" (39) sets them.
    [
      `${KNOWN_KEY.slice(0, 42)}n=`,
      "non-canonical base64: the last character's unused bits are set",
    ],
  ])("rejects %j: %s", (text, message) => {
    expect(parseKey(text)).toEqual({ ok: false, error: message });
    expect(() => keyFromBase64(text)).toThrow(new TypeError(`WireGuard key: ${message}`));
    expect(() => keyFromBase64(text, "PrivateKey")).toThrow(`PrivateKey: ${message}`);
  });

  it("reports a non-string without throwing from parseKey", () => {
    expect(parseKey(42)).toEqual({ ok: false, error: "expected a string, got number" });
    expect(parseKey(undefined)).toEqual({ ok: false, error: "expected a string, got undefined" });
  });

  it("refuses to encode anything but 32 bytes", () => {
    expect(() => keyToBase64(new Uint8Array(31))).toThrow(
      new RangeError("WireGuard key: expected 32 bytes, got 31"),
    );
  });
});

describe("private key generation", () => {
  it("clamps like wg genkey and takes its bytes from the supplied source", () => {
    const source = new Uint8Array(32).fill(0xff);
    const key = generatePrivateKey(() => source);
    expect(key[0]).toBe(0xf8);
    expect(key[31]).toBe(0x7f);
    expect(key.slice(1, 31)).toEqual(new Uint8Array(30).fill(0xff));
    expect(source[0]).toBe(0xff); // the caller's buffer is not modified
    expect(generatePrivateKey(() => new Uint8Array(32))[31]).toBe(0x40);
  });

  it("rejects a random source that returns the wrong length", () => {
    expect(() => generatePrivateKey(() => new Uint8Array(16))).toThrow(
      new RangeError("random source: expected 32 bytes, got 16"),
    );
  });

  it("clamps the same bits as wg genkey: its keys come out unchanged", () => {
    for (let i = 0; i < 3; i++) {
      const generated = keyFromBase64(wg(["genkey"]));
      expect(generatePrivateKey(() => generated)).toEqual(generated);
    }
    // And an unclamped source really is changed.
    const unclamped = keyFromBase64(KNOWN_KEY).fill(0xff, 0, 1);
    expect(generatePrivateKey(() => unclamped)).not.toEqual(unclamped);
  });
});

describe.each(backendsUnderTest)("$name backend: public keys", ({ backend }) => {
  it("match wg pubkey for several wg genkey keys", () => {
    for (let i = 0; i < 4; i++) {
      const privateText = wg(["genkey"]);
      const expected = wg(["pubkey"], `${privateText}\n`);
      expect(keyToBase64(publicKey(backend, keyFromBase64(privateText)))).toBe(expected);
    }
  });

  it("rejects a private key of the wrong length", () => {
    expect(() => publicKey(backend, new Uint8Array(33))).toThrow(
      new RangeError("private key: expected 32 bytes, got 33"),
    );
  });
});
