import { encodeFrame } from "@wiregate/relay-protocol";
import { describe, expect, it } from "vitest";
import { ControlReader } from "../src/control-reader.js";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

const hello = encodeFrame({ type: "hello", version: 1, token: "t", upstream: "echo" });
const statsRequest = encodeFrame({ type: "stats-request" });

describe("ControlReader", () => {
  it("hands out every frame of a chunk that carries several, in order", async () => {
    const reader = new ControlReader(
      streamOf([Buffer.concat([hello, statsRequest, statsRequest])]).getReader(),
    );
    expect(await reader.next()).toMatchObject({ type: "hello", upstream: "echo" });
    expect(await reader.next()).toEqual({ type: "stats-request" });
    expect(await reader.next()).toEqual({ type: "stats-request" });
    expect(await reader.next()).toBe("control stream ended");
  });

  it("joins a frame split across chunks, and ends with a bad frame's reason", async () => {
    const bad = new Uint8Array([0, 0, 0, 2, 0x7b, 0x7d]);
    const reader = new ControlReader(
      streamOf([hello.subarray(0, 3), Buffer.concat([hello.subarray(3), bad])]).getReader(),
    );
    expect(await reader.next()).toMatchObject({ type: "hello" });
    expect(await reader.next()).toMatch(/^bad control frame: /);
  });
});
