import { describe, expect, it } from "vitest";
import type { DecodedMessage } from "../src/decoded-message.js";
import { type Side, timing } from "../src/replay-setup.js";

const A = "10.0.0.1:51820";
const B = "10.0.0.2:51820";

/** Just what timing() reads of a captured message: who sent it, when, its type and indices. */
function message(
  frame: number,
  ms: number,
  from: Side,
  type: 1 | 2 | 4,
  indices: { sender?: number; receiver?: number; responseTo?: number },
): DecodedMessage {
  return {
    frame,
    time: ms / 1000,
    src: from === "A" ? A : B,
    dst: from === "A" ? B : A,
    type,
    ...indices,
  } as DecodedMessage;
}
const sideOf = (m: DecodedMessage): Side => (m.src === A ? "A" : "B");

/**
 * A crossing on a loaded machine, captured at A (the times of a real wireguard-go run): B's
 * initiation reached A before B's response to A's initiation; A used the response (its data went
 * out at `dataMs`) and answered B's initiation at `answerMs`.
 */
function crossing(dataMs: number, answerMs: number): DecodedMessage[] {
  const frames = [
    message(1, 0, "A", 1, { sender: 0xa1 }),
    message(2, 6.642, "B", 1, { sender: 0xb1 }),
    message(3, 6.915, "B", 2, { sender: 0xb2, receiver: 0xa1, responseTo: 1 }),
    message(4, dataMs, "A", 4, { receiver: 0xb2 }),
    message(5, Math.max(dataMs, answerMs) + 0.3, "B", 4, { receiver: 0xa1 }),
    message(7, answerMs, "A", 2, { sender: 0xa2, receiver: 0xb1, responseTo: 2 }),
  ];
  return frames.sort((x, y) => x.time - y.time);
}

describe("timing: when each side processes the other's messages", () => {
  for (const [dataMs, answerMs, order] of [
    [7.372, 7.814, "its data left before its answer to the initiation"],
    [7.9, 7.814, "its answer to the initiation left before its data"],
  ] as const) {
    it(`a response used before the initiation ahead of it was answered (${order})`, () => {
      const captured = crossing(dataMs, answerMs);
      const t = timing(captured, sideOf);
      const frame = (n: number) => captured.find((m) => m.frame === n)!;
      expect(t.captureSide).toBe("A");
      // wireguard-go's handshake workers consumed the response first (else the initiation would
      // have overwritten the handshake it completes), then the initiation.
      expect(t.processTime(frame(3))).toBeLessThan(t.processTime(frame(2)));
      expect(t.processTime(frame(3))).toBeGreaterThanOrEqual(frame(3).time);
      expect(t.processTime(frame(2))).toBeLessThan(frame(7).time);
      // Data is processed in order, after the response whose keypair it uses.
      expect(t.processTime(frame(5))).toBeGreaterThan(t.processTime(frame(2)));
    });
  }

  it("a response never used waits for the initiation ahead of it", () => {
    const captured = crossing(7.372, 7.814).filter((m) => m.frame !== 4);
    const t = timing(captured, sideOf);
    const frame = (n: number) => captured.find((m) => m.frame === n)!;
    expect(t.processTime(frame(3))).toBeGreaterThan(t.processTime(frame(2)));
  });
});
