import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { detectWireGuard, readWireGuardHeader } from "../src/wireguard.js";
import { wgInitiation, wgTransport } from "./helpers.js";

function message(type: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  bytes[0] = type;
  return bytes;
}

describe("WireGuard detection by structure", () => {
  it.each([
    [1, 148],
    [2, 92],
    [3, 64],
    [4, 32],
    [4, 1452],
    [4, 48],
    [4, 1456],
  ])("accepts type %i of %i bytes", (type, length) => {
    expect(detectWireGuard(message(type, length))).toEqual({ ok: true, type });
  });

  it.each([
    [message(1, 147), "type 1 must be 148 bytes, got 147"],
    [message(2, 93), "type 2 must be 92 bytes, got 93"],
    [message(3, 80), "type 3 must be 64 bytes, got 80"],
    [message(4, 16), "transport data must be at least 32 bytes, got 16"],
    [message(4, 31), "transport data must be at least 32 bytes, got 31"],
    [message(5, 148), "unknown message type 5"],
    [message(0, 148), "unknown message type 0"],
    [Uint8Array.of(1, 0, 1), "3 bytes is shorter than the 4-byte message header"],
    [Uint8Array.of(1, 0, 0, 1, ...new Uint8Array(144)), "type 1: reserved bytes must be zero"],
  ])("rejects with a reason (%#)", (payload, reason) => {
    expect(detectWireGuard(payload)).toEqual({ ok: false, reason });
  });

  it("accepts exactly the structurally valid messages (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const valid =
          bytes.length >= 4 &&
          bytes[1] === 0 &&
          bytes[2] === 0 &&
          bytes[3] === 0 &&
          ((bytes[0] === 1 && bytes.length === 148) ||
            (bytes[0] === 2 && bytes.length === 92) ||
            (bytes[0] === 3 && bytes.length === 64) ||
            (bytes[0] === 4 && bytes.length >= 32));
        expect(detectWireGuard(bytes).ok).toBe(valid);
      }),
    );
  });

  it("reads header fields as little-endian u32 and the counter as u64", () => {
    expect(readWireGuardHeader(wgInitiation(0xdeadbeef))).toEqual({
      type: 1,
      length: 148,
      sender: 0xdeadbeef,
    });
    const response = message(2, 92);
    response.set([1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff], 4);
    expect(readWireGuardHeader(response)).toEqual({
      type: 2,
      length: 92,
      sender: 0x04030201,
      receiver: 0xffffffff,
    });
    const cookie = message(3, 64);
    cookie.set([0x78, 0x56, 0x34, 0x12], 4);
    expect(readWireGuardHeader(cookie)).toEqual({ type: 3, length: 64, receiver: 0x12345678 });
    expect(readWireGuardHeader(wgTransport(7, 0xfedcba9876543210n))).toEqual({
      type: 4,
      length: 48,
      receiver: 7,
      counter: 0xfedcba9876543210n,
    });
    expect(readWireGuardHeader(wgTransport(7, 5n))).toMatchObject({ counter: 5n });
    expect(readWireGuardHeader(message(4, 31))).toBeUndefined();
  });
});
