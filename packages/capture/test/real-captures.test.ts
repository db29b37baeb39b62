import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UdpDecoder } from "../src/decoder.js";
import { readCaptureFile } from "../src/node.js";
import type { CaptureRecord } from "../src/records.js";
import { extractWireGuard, type WireGuardMessage } from "../src/wireguard.js";
import { CAPTURES_DIR, tsharkRows } from "./helpers.js";

const captureFiles = readdirSync(CAPTURES_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((dir) =>
    readdirSync(join(CAPTURES_DIR, dir.name))
      .filter((name) => name.endsWith(".pcap") || name.endsWith(".pcapng"))
      .map((name) => join(dir.name, name)),
  )
  .sort();

async function messagesOf(
  path: string,
): Promise<{ records: CaptureRecord[]; messages: WireGuardMessage[] }> {
  const records: CaptureRecord[] = [];
  const messages: WireGuardMessage[] = [];
  const decoder = new UdpDecoder();
  for await (const record of readCaptureFile(path, { chunkSize: 4096 })) {
    records.push(record);
    if (record.kind === "packet") {
      const message = extractWireGuard(record, decoder);
      if (message !== undefined) messages.push(message);
    }
  }
  return { records, messages };
}

/** Our messages in tshark's `-T fields` shape: frame, type, sender, receiver, counter. */
function asTsharkRows(messages: WireGuardMessage[]): string[][] {
  const hex = (value: number) => `0x${value.toString(16).padStart(8, "0")}`;
  return messages.map((m) => {
    const h = m.header;
    return [
      String(m.index),
      String(h.type),
      "sender" in h ? hex(h.sender) : "",
      "receiver" in h ? hex(h.receiver) : "",
      h.type === 4 ? String(h.counter) : "",
    ];
  });
}

describe("shared real captures", () => {
  it("finds the captures", () => {
    expect(captureFiles.length).toBeGreaterThanOrEqual(9);
    expect(captureFiles.some((f) => f.endsWith(".pcap"))).toBe(true);
  });

  it.each(captureFiles)(
    "%s: every frame and WireGuard header field equals tshark's",
    async (file) => {
      const path = join(CAPTURES_DIR, file);
      const wgFields = ["frame.number", "wg.type", "wg.sender", "wg.receiver", "wg.counter"];
      const frameFields = ["frame.time_epoch", "frame.cap_len", "frame.len"];
      // One tshark run per file: all frames, WireGuard columns empty where tshark saw none.
      const [{ records, messages }, rows] = await Promise.all([
        messagesOf(path),
        tsharkRows(path, [...wgFields, ...frameFields], { displayFilter: "frame" }),
      ]);
      expect(records.filter((r) => r.kind === "error")).toEqual([]);
      const expectedWireGuard = rows.filter((row) => row[1] !== "").map((row) => row.slice(0, 5));
      expect(expectedWireGuard.length).toBeGreaterThan(0);
      expect(asTsharkRows(messages)).toEqual(expectedWireGuard);

      const digits = file.endsWith(".pcap") ? 6 : 9;
      const ours = records.flatMap((r) =>
        r.kind === "packet"
          ? [[epochText(r.timestampNs, digits), String(r.capturedLength), String(r.originalLength)]]
          : [],
      );
      expect(ours).toEqual(rows.map((row) => row.slice(5)));
    },
  );

  const pairs = captureFiles.filter((f) => f.endsWith(".pcap")).map((f) => [f, `${f}ng`] as const);

  it.each(pairs)("%s and its pcapng give the same messages", async (pcap, pcapng) => {
    const a = await messagesOf(join(CAPTURES_DIR, pcap));
    const b = await messagesOf(join(CAPTURES_DIR, pcapng));
    const strip = (m: WireGuardMessage) => ({
      index: m.index,
      src: m.src,
      dst: m.dst,
      header: m.header,
      payload: Uint8Array.from(m.payload),
      // the .pcap copies keep microseconds only
      micros: m.timestampNs / 1000n,
    });
    expect(a.messages.length).toBeGreaterThan(0);
    expect(a.messages.map(strip)).toEqual(b.messages.map(strip));
  });
});

/** Epoch seconds with 9 decimals, as tshark prints frame.time_epoch. */
function epochText(ns: bigint, digits: number): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${seconds}.${fraction.slice(0, digits).padEnd(9, "0")}`;
}
