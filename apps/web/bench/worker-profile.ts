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
  const kindOf = new Map<number, string>();
  for (const { id, callFrame: f } of profile.nodes) {
    let kind: string;
    if (f.functionName === "(idle)") kind = "idle";
    else if (f.functionName === "(garbage collector)") kind = "garbage collector";
    else if (f.functionName === "(program)") kind = "(program)";
    else if (f.url === "") kind = "native (web streams, promises, messaging)";
    else if (/libsodium|^wasm:/.test(f.url)) kind = "libsodium (WebAssembly and its wrapper)";
    else {
      const at = mapFor(f.url)?.originalPositionFor({
        line: f.lineNumber + 1,
        column: f.columnNumber,
      });
      kind = at?.source ? category(at.source) : f.url.split("/").pop() || "?";
    }
    kindOf.set(id, kind);
  }
  const us = new Map<string, number>();
  profile.samples.forEach((node, i) => {
    const kind = kindOf.get(node) ?? "?";
    us.set(kind, (us.get(kind) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return us;
}
