/**
 * A CPU profile of a page's dedicated workers over the Chrome DevTools Protocol, summarised by
 * where the time went: the original source (through the bundle's source map: our packages, noble,
 * the WebTransport library), libsodium's chunk, the browser's native code (web streams, promises,
 * messaging), the garbage collector.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CDPSession, Page } from "playwright-core";
import { SourceMapConsumer } from "source-map-js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface Profile {
  nodes: { id: number; callFrame: CallFrame }[];
  samples: number[];
  timeDeltas: number[];
}
/** A sampling heap profile: the bytes allocated at each call frame (collected objects included). */
export interface HeapProfile {
  head: HeapNode;
}
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

/** Profiles every dedicated worker of `page` between `start()` and `stop()`. */
export class WorkerProfiler {
  readonly #cdp: CDPSession;
  readonly #workers: string[] = [];
  readonly #pending = new Map<number, (result: unknown) => void>();
  #id = 0;

  private constructor(cdp: CDPSession) {
    this.#cdp = cdp;
    cdp.on("Target.attachedToTarget", ({ sessionId, targetInfo }) => {
      if (targetInfo.type === "worker") this.#workers.push(sessionId);
    });
    cdp.on("Target.receivedMessageFromTarget", ({ message }) => {
      const reply = JSON.parse(message) as { id?: number; result?: unknown };
      if (reply.id !== undefined) this.#pending.get(reply.id)?.(reply.result);
    });
  }

  static async attach(page: Page): Promise<WorkerProfiler> {
    const profiler = new WorkerProfiler(await page.context().newCDPSession(page));
    await profiler.#cdp.send("Target.setAutoAttach", {
      autoAttach: true,
      waitForDebuggerOnStart: false,
      flatten: false,
    });
    return profiler;
  }

  #call(sessionId: string, method: string, params: object = {}): Promise<unknown> {
    const id = ++this.#id;
    const reply = new Promise((resolve) => this.#pending.set(id, resolve));
    void this.#cdp.send("Target.sendMessageToTarget", {
      sessionId,
      message: JSON.stringify({ id, method, params }),
    });
    return reply;
  }

  async start(): Promise<void> {
    for (const worker of this.#workers) {
      await this.#call(worker, "Profiler.enable");
      await this.#call(worker, "Profiler.setSamplingInterval", { interval: 200 });
      await this.#call(worker, "Profiler.start");
    }
  }

  /**
   * Samples the workers' JavaScript heap allocations, garbage included (V8 keeps the samples of
   * objects collected since), until `stopAllocations()`. ArrayBuffers' contents live outside
   * that heap: only their small JavaScript objects are counted.
   */
  async startAllocations(): Promise<void> {
    for (const worker of this.#workers) {
      await this.#call(worker, "HeapProfiler.enable");
      await this.#call(worker, "HeapProfiler.startSampling", {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
  }

  async stopAllocations(): Promise<HeapProfile[]> {
    const profiles: HeapProfile[] = [];
    for (const worker of this.#workers) {
      const result = (await this.#call(worker, "HeapProfiler.stopSampling")) as {
        profile: HeapProfile;
      };
      profiles.push(result.profile);
    }
    return profiles;
  }

  /** The profile of each worker. */
  async stop(): Promise<Profile[]> {
    const profiles: Profile[] = [];
    for (const worker of this.#workers) {
      const result = (await this.#call(worker, "Profiler.stop")) as { profile: Profile };
      profiles.push(result.profile);
    }
    return profiles;
  }
}

/** What a source file is, for the summary. */
function category(source: string): string {
  const path = source.replaceAll("\\", "/");
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
  if (pkg) return pkg;
  const ours = /(packages|apps)\/([^/]+)\/(?:src|dist)\/(.+?)(?:\.js)?$/.exec(path);
  return ours ? `${ours[2]}/${ours[3]}` : path;
}

/** µs of self time by category, with "idle" apart; the bundle's frames mapped to their sources. */
export function summarise(profile: Profile, assets: string): Map<string, number> {
  const kindOf = new Map<number, string>();
  const kind = kinds(assets);
  for (const { id, callFrame } of profile.nodes) kindOf.set(id, kind(callFrame));
  const us = new Map<string, number>();
  profile.samples.forEach((node, i) => {
    const of = kindOf.get(node) ?? "?";
    us.set(of, (us.get(of) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return us;
}

/** Bytes allocated by category (self sizes of a sampling heap profile), as `summarise`. */
export function summariseAllocations(profile: HeapProfile, assets: string): Map<string, number> {
  const kind = kinds(assets);
  const bytes = new Map<string, number>();
  const walk = (node: HeapNode) => {
    if (node.selfSize > 0) {
      const of = kind(node.callFrame);
      bytes.set(of, (bytes.get(of) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return bytes;
}

/** What a call frame is: its original source's category through the bundle's source maps. */
function kinds(assets: string): (f: CallFrame) => string {
  const maps = new Map<string, SourceMapConsumer | undefined>();
  const mapFor = (url: string) => {
    const file = url.split("/").pop() ?? "";
    if (!maps.has(file)) {
      try {
        const raw = JSON.parse(readFileSync(join(assets, `${file}.map`), "utf8"));
        maps.set(file, new SourceMapConsumer(raw));
      } catch {
        maps.set(file, undefined);
      }
    }
    return maps.get(file);
  };
  return (f) => {
    if (f.functionName === "(idle)") return "idle";
    if (f.functionName === "(garbage collector)") return "garbage collector";
    if (f.functionName === "(program)") return "(program)";
    if (f.url === "") return "native (web streams, promises, messaging)";
    if (/libsodium|^wasm:/.test(f.url)) return "libsodium (WebAssembly and its wrapper)";
    const at = mapFor(f.url)?.originalPositionFor({
      line: f.lineNumber + 1,
      column: f.columnNumber,
    });
    return at?.source ? category(at.source) : f.url.split("/").pop() || "?";
  };
}
