// The page's persistent keepalive against the relay's idle timeout (src/keepalive.ts).
import { describe, expect, it } from "vitest";
import { sessionKeepaliveSeconds } from "../src/keepalive.js";

describe("sessionKeepaliveSeconds", () => {
  it("against the relay's default 120 s idle timeout: WireGuard's usual 25 s", () => {
    expect(sessionKeepaliveSeconds(120_000, undefined)).toBe(25);
  });

  it("a third of a shorter idle timeout, so two keepalives may be late", () => {
    expect(sessionKeepaliveSeconds(30_000, undefined)).toBe(10);
    expect(sessionKeepaliveSeconds(3_000, undefined)).toBe(1);
  });

  it("never more often than once a second, whatever the relay says", () => {
    expect(sessionKeepaliveSeconds(100, undefined)).toBe(1);
  });

  it("25 s against a relay that names no idle timeout", () => {
    expect(sessionKeepaliveSeconds(undefined, undefined)).toBe(25);
  });

  it("keeps the user's keepalive when it is more frequent, not when it would let the session idle", () => {
    expect(sessionKeepaliveSeconds(120_000, 15)).toBe(15);
    expect(sessionKeepaliveSeconds(30_000, 60)).toBe(10);
    expect(sessionKeepaliveSeconds(30_000, 0)).toBe(10);
  });
});
