/**
 * --capture FILE.pcapng: every forwarded WireGuard message, both directions, as a raw IP/UDP packet
 * with real timestamps. The client side gets a stable fake address per session (the real one is a
 * TCP/QUIC peer, not a UDP endpoint). Files rotate by size: FILE.pcapng, FILE.1.pcapng, …
 */

import { createWriteStream, type WriteStream } from "node:fs";
import { buildUdpPacket, LINKTYPE_RAW, PcapngWriter } from "@wiregate/capture";
import type { Logger } from "./logger.js";
import type { CaptureSink } from "./session.js";

/** Beyond this much unwritten data the capture drops records instead of growing memory. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const FAKE_CLIENT_PORT = 40000;

/** 100.64.0.0/10 (shared address space) for IPv4 upstreams, fd00::/8 for IPv6 ones. */
export function fakeClientAddress(sessionIndex: number, ipv6: boolean): string {
  const n = sessionIndex % (1 << 22);
  if (ipv6) return `fd00:77:67::${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  return `100.${64 + (n >>> 16)}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

export function rotatedName(base: string, index: number): string {
  if (index === 0) return base;
  const dot = base.lastIndexOf(".");
  return dot > 0 ? `${base.slice(0, dot)}.${index}${base.slice(dot)}` : `${base}.${index}`;
}

export interface CaptureFile extends CaptureSink {
  close(): Promise<void>;
  readonly dropped: number;
}

export async function openCapture(
  path: string,
  rotateBytes: number,
  log: Logger,
): Promise<CaptureFile> {
  let fileIndex = 0;
  let writer: PcapngWriter;
  let written = 0;
  let dropped = 0;
  /** Files being flushed after a rotation; close() waits for them. */
  const finishing: Promise<void>[] = [];

  // Opening is synchronous (writes queue until the file is open), so a rotation never drops or
  // reorders a record.
  const openFile = (): WriteStream => {
    const name = rotatedName(path, fileIndex);
    const file = createWriteStream(name);
    file.on("error", (error) =>
      log.error("capture write failed", { file: name, error: error.message }),
    );
    writer = new PcapngWriter({ userApplication: "wiregate-relay" });
    const header = writer.addInterface({ linkType: LINKTYPE_RAW, name: "wiregate-relay" });
    file.write(header);
    written = header.length;
    log.info("capture file opened", { file: name });
    return file;
  };
  let stream = openFile();
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });

  return {
    get dropped() {
      return dropped;
    },
    record({ sessionIndex, direction, upstream, datagram, timeMs }) {
      if (stream.writableLength > MAX_PENDING_BYTES) {
        dropped++;
        return;
      }
      const client = {
        address: fakeClientAddress(sessionIndex, upstream.address.includes(":")),
        port: FAKE_CLIENT_PORT + (sessionIndex % 20000),
      };
      const server = { address: upstream.address, port: upstream.port };
      const packet = buildUdpPacket(
        direction === "to_upstream"
          ? { src: client, dst: server, payload: datagram }
          : { src: server, dst: client, payload: datagram },
      );
      const block = writer.writePacket({
        timestampNs: BigInt(Math.round(timeMs * 1000)) * 1000n,
        data: packet,
      });
      stream.write(block);
      written += block.length;
      if (written >= rotateBytes) {
        const old = stream;
        finishing.push(new Promise<void>((resolve) => old.end(() => resolve())));
        fileIndex++;
        stream = openFile();
      }
    },
    async close() {
      await Promise.all(finishing);
      await new Promise<void>((resolve) => stream.end(() => resolve()));
      if (dropped > 0) log.warn("capture dropped records", { dropped });
    },
  };
}
