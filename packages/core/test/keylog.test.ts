import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatKeyLogLine, KEY_LOG_TYPES, type KeyLogEntry, parseKeyLog } from "../src/keylog.js";
import { keyToBase64 } from "../src/keys.js";

const CAPTURES = new URL("../../../../shared/captures/", import.meta.url);

function captureKeyLogs(): { name: string; text: string }[] {
  const logs: { name: string; text: string }[] = [];
  for (const dir of readdirSync(CAPTURES, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const file of readdirSync(new URL(`${dir.name}/`, CAPTURES))) {
      if (/^keylog.*\.txt$/.test(file)) {
        logs.push({
          name: `${dir.name}/${file}`,
          text: readFileSync(new URL(`${dir.name}/${file}`, CAPTURES), "utf8"),
        });
      }
    }
  }
  return logs;
}

const key = (fill: number) => new Uint8Array(32).fill(fill);
const b64 = (fill: number) => keyToBase64(key(fill));
const summary = (entries: KeyLogEntry[]) =>
  entries.map((e) => [
    e.line,
    e.type,
    e.key[0],
    e.type === "PRESHARED_KEY" ? e.ephemeralIndex : undefined,
  ]);

describe("parseKeyLog on the real captures", () => {
  const logs = captureKeyLogs();

  it("finds the key logs", () => {
    expect(logs.map((l) => l.name).sort()).toEqual([
      "collision-immediate/keylog.txt",
      "collision-stall-fulldecrypt/keylog-full.txt",
      "collision-stall/keylog.txt",
      "normal-fulldecrypt/keylog-full.txt",
      "normal/keylog.txt",
      "psk/keylog.txt",
    ]);
  });

  it("parses every line of every key log, and formats each line back identically", () => {
    for (const { name, text } of logs) {
      const { entries, errors } = parseKeyLog(text);
      expect(errors, name).toEqual([]);
      const lines = text.split("\n").filter((l) => l !== "");
      expect(entries.length, name).toBe(lines.length);
      entries.forEach((entry, i) => {
        expect(formatKeyLogLine(entry.type, entry.key)).toBe(lines[i]);
      });
    }
  });

  it("reads the full-decrypt logs as two statics and their ephemerals", () => {
    const text = logs.find((l) => l.name === "normal-fulldecrypt/keylog-full.txt")!.text;
    const { entries } = parseKeyLog(text);
    expect(entries.map((e) => e.type)).toEqual([
      "LOCAL_STATIC_PRIVATE_KEY",
      "LOCAL_STATIC_PRIVATE_KEY",
      "LOCAL_EPHEMERAL_PRIVATE_KEY",
      "LOCAL_EPHEMERAL_PRIVATE_KEY",
    ]);
    expect(keyToBase64(entries[2]!.key)).toBe("WLzfyCJtS7qYcERxsTyLIlQVl4GBjt1s0UrhNLWa900=");
  });

  it("leaves the psk capture's PSK unbound: no ephemeral key precedes it", () => {
    const text = logs.find((l) => l.name === "psk/keylog.txt")!.text;
    const psk = parseKeyLog(text).entries.find((e) => e.type === "PRESHARED_KEY");
    expect(psk).toMatchObject({ line: 3, ephemeralIndex: null });
    expect(keyToBase64(psk!.key)).toBe("KbGO4Dgw5loKIjd/oJiHXTITXv8O3tEoOVn9WOWVLDo=");
  });
});

describe("parseKeyLog", () => {
  it("binds a PSK to the latest unclaimed ephemeral key, as Wireshark does", () => {
    const text = [
      `LOCAL_EPHEMERAL_PRIVATE_KEY = ${b64(1)}`,
      `PRESHARED_KEY = ${b64(2)}`, // → ephemeral 1
      `PRESHARED_KEY = ${b64(3)}`, // the ephemeral is claimed: unbound
      `LOCAL_EPHEMERAL_PRIVATE_KEY = ${b64(4)}`,
      `LOCAL_STATIC_PRIVATE_KEY = ${b64(5)}`, // a static key in between does not break the link
      `PRESHARED_KEY = ${b64(6)}`, // → ephemeral 4
      `LOCAL_EPHEMERAL_PRIVATE_KEY = ${b64(7)}`,
      `LOCAL_EPHEMERAL_PRIVATE_KEY = ${b64(8)}`,
      `PRESHARED_KEY = ${b64(9)}`, // → ephemeral 8, the one just before
    ].join("\n");
    const { entries, errors } = parseKeyLog(text);
    expect(errors).toEqual([]);
    expect(summary(entries)).toEqual([
      [1, "LOCAL_EPHEMERAL_PRIVATE_KEY", 1, undefined],
      [2, "PRESHARED_KEY", 2, 0],
      [3, "PRESHARED_KEY", 3, null],
      [4, "LOCAL_EPHEMERAL_PRIVATE_KEY", 4, undefined],
      [5, "LOCAL_STATIC_PRIVATE_KEY", 5, undefined],
      [6, "PRESHARED_KEY", 6, 3],
      [7, "LOCAL_EPHEMERAL_PRIVATE_KEY", 7, undefined],
      [8, "LOCAL_EPHEMERAL_PRIVATE_KEY", 8, undefined],
      [9, "PRESHARED_KEY", 9, 7],
    ]);
  });

  it("accepts Wireshark's spacing, CRLF, blank lines and comments", () => {
    const text = `# keys\r\n\r\n   REMOTE_STATIC_PUBLIC_KEY=${b64(1)}\r\nLOCAL_STATIC_PRIVATE_KEY   =   ${b64(2)}\r\n  # indented comment\n   \n`;
    const { entries, errors } = parseKeyLog(text);
    expect(errors).toEqual([]);
    expect(summary(entries)).toEqual([
      [3, "REMOTE_STATIC_PUBLIC_KEY", 1, undefined],
      [4, "LOCAL_STATIC_PRIVATE_KEY", 2, undefined],
    ]);
  });

  it("reports every other line precisely and keeps the good ones", () => {
    const text = [
      "hello", // 1
      `SOME_KEY = ${b64(1)}`, // 2
      `LOCAL_STATIC_PRIVATE_KEY = ${b64(1).slice(0, 40)}`, // 3
      `PRESHARED_KEY = ${b64(2)} `, // 4
      `\tPRESHARED_KEY = ${b64(2)}`, // 5
      "PRESHARED_KEY =", // 6
      `= ${b64(3)}`, // 7
      `LOCAL_STATIC_PRIVATE_KEY = ${b64(4)}`, // 8
      `LOCAL_STATIC_PRIVATE_KEY = ${b64(4).replace("E", "!")}`, // 9
      `local_static_private_key = ${b64(4)}`, // 10
    ].join("\n");
    const { entries, errors } = parseKeyLog(text);
    const types = KEY_LOG_TYPES.join(", ");
    expect(errors).toEqual([
      { line: 1, message: "expected 'TYPE = base64-key'" },
      { line: 2, message: `unknown key type 'SOME_KEY' (expected one of ${types})` },
      { line: 3, message: "LOCAL_STATIC_PRIVATE_KEY: expected 44 base64 characters, got 40" },
      { line: 4, message: "PRESHARED_KEY: whitespace after the key" },
      {
        line: 5,
        message: "the line starts with whitespace other than spaces (Wireshark only skips spaces)",
      },
      { line: 6, message: "PRESHARED_KEY: missing key" },
      { line: 7, message: `an empty key type (expected one of ${types})` },
      {
        line: 9,
        message: expect.stringMatching(
          /^LOCAL_STATIC_PRIVATE_KEY: invalid base64 character "!" at position \d+$/,
        ),
      },
      {
        line: 10,
        message: `unknown key type 'local_static_private_key' (expected one of ${types})`,
      },
    ]);
    expect(summary(entries)).toEqual([[8, "LOCAL_STATIC_PRIVATE_KEY", 4, undefined]]);
  });

  it("never throws, and accounts for every non-blank, non-comment line", () => {
    const good = KEY_LOG_TYPES.map((t, i) => `${t} = ${b64(i * 17)}`);
    const line = fc.oneof(
      fc.constantFrom(...good, "", "# c", " ", "=", "PRESHARED_KEY"),
      fc.string({ maxLength: 60 }),
      // Mutations of valid lines: one character replaced, inserted or removed.
      fc
        .tuple(fc.constantFrom(...good), fc.nat(70), fc.string({ maxLength: 2 }), fc.nat(1))
        .map(([l, at, s, drop]) => l.slice(0, at) + s + l.slice(at + drop)),
    );
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 12 }),
        fc.constantFrom("\n", "\r\n"),
        (lines, eol) => {
          const text = lines.join(eol);
          const { entries, errors } = parseKeyLog(text);
          const counted = new Set([...entries.map((e) => e.line), ...errors.map((e) => e.line)]);
          expect(counted.size).toBe(entries.length + errors.length); // one outcome per line
          text.split("\n").forEach((raw, i) => {
            const content = raw.replace(/\r$/, "").replace(/^ +/, "");
            const ignorable = content.trim() === "" || content.startsWith("#");
            expect(counted.has(i + 1), JSON.stringify(raw)).toBe(!ignorable);
          });
          for (const e of errors) expect(e.message.length).toBeGreaterThan(0);
          for (const e of entries) {
            if (e.type === "PRESHARED_KEY" && e.ephemeralIndex !== null) {
              expect(entries[e.ephemeralIndex]!.type).toBe("LOCAL_EPHEMERAL_PRIVATE_KEY");
              expect(entries[e.ephemeralIndex]!.line).toBeLessThan(e.line);
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("formatKeyLogLine", () => {
  it("writes Wireshark's format and round-trips through the parser", () => {
    for (const type of KEY_LOG_TYPES) {
      const line = formatKeyLogLine(type, key(0xab));
      expect(line).toBe(`${type} = ${b64(0xab)}`);
      const { entries } = parseKeyLog(line);
      expect(entries[0]).toMatchObject({ line: 1, type, key: key(0xab) });
    }
  });

  it("throws on caller mistakes", () => {
    expect(() => formatKeyLogLine("NOPE" as "PRESHARED_KEY", key(1))).toThrow(TypeError);
    expect(() => formatKeyLogLine("PRESHARED_KEY", new Uint8Array(31))).toThrow(RangeError);
  });
});
