import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatRelayLines,
  MAX_RELAYS,
  parseRelayLines,
  parseRelayList,
} from "../src/relay-list.js";

const HASH = "ab".repeat(32);

describe("relay list", () => {
  it("accepts a fleet with names, URLs, certificate hashes and WebSocket URLs", () => {
    const relays = [
      { name: "eu-1", url: "https://eu-1.example.net/wiregate", certificateSha256: HASH },
      { name: "us 2", url: "https://us-2.example.net:4433/wiregate" },
      {
        name: "local",
        url: "https://127.0.0.1:4433/wiregate",
        websocket: "ws://127.0.0.1:4480/wiregate",
      },
    ];
    expect(parseRelayList(relays)).toEqual({ ok: true, relays });
    expect(parseRelayList([])).toEqual({ ok: true, relays: [] });
  });

  it("says which entry and which field is wrong", () => {
    const cases: [unknown, string][] = [
      [{}, "relays: must be an array"],
      [[null], "relays[0]: must be an object with name and url"],
      [[{ name: "a" }], "relays[0].url: must be an https:// URL"],
      [[{ name: "a", url: "http://a/wiregate" }], "relays[0].url: must be an https:// URL"],
      [[{ name: "", url: "https://a/" }], "relays[0].name: must be text"],
      [[{ name: "<b>", url: "https://a/" }], "relays[0].name: must be text"],
      [[{ name: "a".repeat(65), url: "https://a/" }], "relays[0].name: longer than 64"],
      [[{ name: "a", url: "https://a/", certificateSha256: "abc" }], "relays[0].certificateSha256"],
      [[{ name: "a", url: "https://a/", websocket: "https://a/" }], "relays[0].websocket"],
      [[{ name: "a", url: "https://a/", extra: 1 }], "relays[0].extra: unknown field"],
      [
        [
          { name: "a", url: "https://a/" },
          { name: "a", url: "https://b/" },
        ],
        'relays[1]: name "a" appears twice',
      ],
      [
        [
          { name: "a", url: "https://a/" },
          { name: "b", url: "https://a/" },
        ],
        "relays[1]: url https://a/ appears twice",
      ],
    ];
    for (const [value, error] of cases) {
      const result = parseRelayList(value);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toContain(error);
    }
  });

  it("is bounded", () => {
    const many = Array.from({ length: MAX_RELAYS + 1 }, (_, i) => ({
      name: `r${i}`,
      url: `https://r${i}.example/`,
    }));
    expect(parseRelayList(many.slice(0, MAX_RELAYS)).ok).toBe(true);
    expect(parseRelayList(many)).toEqual({
      ok: false,
      error: `relays: ${MAX_RELAYS + 1} entries, at most ${MAX_RELAYS}`,
    });
  });

  it("reads and writes the Connect screen's lines", () => {
    const text = `# the fleet\neu-1 https://eu-1.example/wiregate ${HASH}\n\n us-2  https://us-2.example/wiregate \n`;
    const result = parseRelayLines(text);
    expect(result).toEqual({
      ok: true,
      relays: [
        { name: "eu-1", url: "https://eu-1.example/wiregate", certificateSha256: HASH },
        { name: "us-2", url: "https://us-2.example/wiregate" },
      ],
    });
    if (result.ok) expect(parseRelayLines(formatRelayLines(result.relays))).toEqual(result);
    expect(parseRelayLines("eu-1")).toEqual({
      ok: false,
      error: "line 1: expected NAME URL [CERTIFICATE-SHA256]",
    });
    expect(parseRelayLines(`a https://a/ ${HASH} more`).ok).toBe(false);
  });

  it("never throws on garbage", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const result = parseRelayList(value);
        if (result.ok) expect(result.relays.length).toBeLessThanOrEqual(MAX_RELAYS);
      }),
    );
    fc.assert(fc.property(fc.string(), (text) => void parseRelayLines(text)));
  });
});
