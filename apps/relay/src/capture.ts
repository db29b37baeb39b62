/**
 * --capture FILE.pcapng: every forwarded WireGuard message, both directions, as a raw IP/UDP packet
 * with real timestamps. The client side gets a stable fake address per session (the real one is a
 * TCP/QUIC peer, not a UDP endpoint). Files rotate by size: FILE.pcapng, FILE.1.pcapng, … They are
 * created exclusively with mode 0600 (captures hold traffic metadata), a restart continues after
 * the highest existing number instead of overwriting, and only the newest `keepFiles` of the
 * series stay on disk.
 */

import { createWriteStream, openSync, readdirSync, unlinkSync, type WriteStream } from "node:fs";
import { basename, dirname } from "node:path";
import { buildUdpPacket, LINKTYPE_RAW, PcapngWriter } from "@wiregate/capture";
import type { Logger } from "./logger.js";
import type { CaptureSink } from "./session-types.js";

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

/** Numbers of the existing files of a series, oldest (lowest) first. */
export function existingIndexes(base: string): number[] {
  const name = basename(base);
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  const indexes: number[] = [];
  for (const entry of readdirSync(dirname(base))) {
    if (entry === name) indexes.push(0);
    else if (entry.startsWith(`${stem}.`) && entry.endsWith(ext)) {
      const middle = entry.slice(stem.length + 1, entry.length - ext.length);
      if (/^[1-9]\d{0,8}$/.test(middle)) indexes.push(Number(middle));
    }
  }
  return indexes.sort((a, b) => a - b);
}

/** Creates the first free file of the series from `index` on: never opens an existing file. */
function createExclusive(base: string, index: number): { fd: number; index: number } {
  for (;;) {
    try {
      return { fd: openSync(rotatedName(base, index), "wx", 0o600), index };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      index++;
    }
  }
}

export interface CaptureFile extends CaptureSink {
  close(): Promise<void>;
  readonly dropped: number;
}

export async function openCapture(
  path: string,
  rotateBytes: number,
  log: Logger,
  keepFiles = Number.POSITIVE_INFINITY,
): Promise<CaptureFile> {
  /** Files of the series on disk, oldest first; the last is the one being written. */
  const kept = existingIndexes(path);
  let fileIndex = (kept.at(-1) ?? -1) + 1;
  let writer: PcapngWriter;
  let written = 0;
  let dropped = 0;
  /** Files being flushed after a rotation; close() waits for them. */
  const finishing: Promise<void>[] = [];

  // Opening is synchronous (writes queue until the file is open), so a rotation never drops or
  // reorders a record.
  const openFile = (): WriteStream => {
    const created = createExclusive(path, fileIndex);
    fileIndex = created.index;
    kept.push(fileIndex);
    const name = rotatedName(path, fileIndex);
    const file = createWriteStream(name, { fd: created.fd });
    file.on("error", (error) =>
      log.error("capture write failed", { file: name, error: error.message }),
    );
    writer = new PcapngWriter({ userApplication: "wiregate-relay" });
    const header = writer.addInterface({ linkType: LINKTYPE_RAW, name: "wiregate-relay" });
    file.write(header);
    written = header.length;
    log.info("capture file opened", { file: name });
    removeOld();
    return file;
  };
  const removeOld = () => {
    while (kept.length > keepFiles) {
      const old = rotatedName(path, kept.shift()!);
      try {
        unlinkSync(old);
        log.info("capture file removed", { file: old });
      } catch (error) {
        log.warn("capture file not removed", { file: old, error: (error as Error).message });
      }
    }
  };
  let stream = openFile();

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
