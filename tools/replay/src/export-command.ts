/** `export`: a pcapng with the key log embedded (Decryption Secrets Block), for Wireshark. */

import { PcapngWriter } from "@wiregate/capture";
import type { CommonArgs } from "./args.js";
import { type MessageStreamResult, type Progress, streamMessages } from "./input.js";
import type { BufferedOut } from "./io.js";

export async function exportCapture(
  args: CommonArgs,
  keyText: string,
  err: BufferedOut,
  progress: Progress | undefined,
): Promise<MessageStreamResult> {
  const { open } = await import("node:fs/promises");
  const writer = new PcapngWriter({ userApplication: "wiregate-replay export" });
  const interfaces = new Map<string, number>();
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(args.write!, "w");
  } catch (e) {
    return {
      error: `cannot write ${args.write}: ${(e as NodeJS.ErrnoException).code}`,
      messages: 0,
      frames: 0,
    };
  }
  const chunks: Uint8Array[] = [];
  let buffered = 0;
  const push = async (bytes: Uint8Array) => {
    chunks.push(bytes);
    buffered += bytes.length;
    if (buffered >= 1 << 20) await flush();
  };
  const flush = async () => {
    if (chunks.length === 0) return;
    const all = new Uint8Array(buffered);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    chunks.length = 0;
    buffered = 0;
    await handle.write(all);
  };
  await push(writer.writeWireGuardKeyLog(keyText.endsWith("\n") ? keyText : `${keyText}\n`));
  let pending: Promise<void> = Promise.resolve();
  let frames = 0;
  const result = await streamMessages(
    args.file,
    { count: args.count, progress },
    () => pending,
    (record) => {
      if (record.kind !== "packet") return;
      frames++;
      const key = `${record.interfaceId}/${record.linkType}`;
      let id = interfaces.get(key);
      if (id === undefined) {
        id = interfaces.size;
        interfaces.set(key, id);
        const idb = writer.addInterface({ linkType: record.linkType });
        chunks.push(idb);
        buffered += idb.length;
      }
      const block = writer.writePacket({
        interfaceId: id,
        timestampNs: record.timestampNs,
        data: record.data,
        originalLength: Math.max(record.originalLength, record.data.length),
      });
      chunks.push(block);
      buffered += block.length;
      if (buffered >= 1 << 20) pending = flush();
      else pending = Promise.resolve();
    },
  );
  await pending;
  await flush();
  await handle.close();
  err.line(
    `wrote ${args.write}: ${frames} frames (${result.messages} WireGuard messages) with the key log as a Decryption Secrets Block`,
  );
  return result;
}
