import { createReadStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readWireGuardMessages } from "../src/messages.js";
import { readCaptureFile } from "../src/node.js";
import { type ByteStreamLike, readCapture, readCaptureBytes } from "../src/reader.js";
import type { CaptureRecord } from "../src/records.js";
import { CAPTURES_DIR } from "./helpers.js";

const path = join(CAPTURES_DIR, "collision-stall/sim-nopsk-retry-run02.pcapng");
const bytes = new Uint8Array(readFileSync(path));
const expectedIndices = [...readCaptureBytes(bytes)].map((r) =>
  r.kind === "packet" ? r.index : -1,
);

async function collect(source: AsyncIterable<CaptureRecord>): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for await (const r of source) out.push(r);
  return out;
}

const indices = (records: CaptureRecord[]) =>
  records.map((r) => (r.kind === "packet" ? r.index : -1));

describe("async sources", () => {
  it("reads a Node stream in small chunks", async () => {
    const records = await collect(readCapture(createReadStream(path, { highWaterMark: 777 })));
    expect(indices(records)).toEqual(expectedIndices);
    expect(expectedIndices).toHaveLength(306);
  });

  it("reads a Web ReadableStream, through async iteration and through getReader()", async () => {
    const webStream = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 1000)
            controller.enqueue(bytes.slice(at, at + 1000));
          controller.close();
        },
      });
    expect(indices(await collect(readCapture(webStream())))).toEqual(expectedIndices);
    // A browser stream without Symbol.asyncIterator: only getReader().
    const stream = webStream();
    const readerOnly: ByteStreamLike = { getReader: () => stream.getReader() };
    expect(indices(await collect(readCapture(readerOnly)))).toEqual(expectedIndices);
  });

  it("reads files with readCaptureFile and ends damaged files with the error", async () => {
    expect(indices(await collect(readCaptureFile(path, { chunkSize: 4096 })))).toEqual(
      expectedIndices,
    );
    async function* cut() {
      yield bytes.subarray(0, 5000);
    }
    const records = await collect(readCapture(cut()));
    const last = records.at(-1)!;
    expect(last.kind === "error" && last.error.code).toBe("truncated");
    expect(records.filter((r) => r.kind === "packet").length).toBeGreaterThan(10);
    await expect(collect(readCaptureFile(join(CAPTURES_DIR, "missing.pcap")))).rejects.toThrow(
      /ENOENT/,
    );
  });

  it("lists WireGuard messages straight from a stream", async () => {
    const out = [];
    for await (const item of readWireGuardMessages(createReadStream(path))) out.push(item);
    expect(out).toHaveLength(306);
    expect(out[0]).toMatchObject({
      kind: "wireguard",
      index: 1,
      src: { address: "10.250.0.2", port: 51821 },
      header: { type: 1, sender: 0xc4d9c75a },
    });
    expect(out[6]).toMatchObject({
      index: 7,
      header: { type: 4, receiver: 0x7c61fe0b, counter: 0n },
    });
  });
});
