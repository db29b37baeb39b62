/**
 * Exhaustive exploration of delivery orders between two devices. A path is the sequence of choices
 * "deliver in-flight message i next"; every path is re-run from scratch (the engine is deterministic),
 * with the expensive X25519 results memoized so re-running is cheap.
 */
import { nodeCrypto } from "../src/crypto/node.js";
import type { CryptoBackend } from "../src/crypto/types.js";
import type { Pair } from "./sim.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** nodeCrypto with X25519 memoized: same inputs, same outputs, no repeated scalar multiplications. */
export function memoizedCrypto(): CryptoBackend {
  const shared = new Map<string, Uint8Array>();
  const publics = new Map<string, Uint8Array>();
  return {
    ...nodeCrypto,
    name: "node (memoized X25519)",
    x25519(priv, pub) {
      const key = hex(priv) + hex(pub);
      const known = shared.get(key) ?? nodeCrypto.x25519(priv, pub);
      shared.set(key, known);
      return known.slice();
    },
    x25519Public(priv) {
      const key = hex(priv);
      const known = publics.get(key) ?? nodeCrypto.x25519Public(priv);
      publics.set(key, known);
      return known.slice();
    },
  };
}

export interface Exploration {
  paths: number;
  failures: { path: number[]; problems: string[] }[];
}

export interface ExploreOptions {
  /** Virtual ms between deliveries (0: every delivery at the same instant). */
  stepMs?: number;
  /**
   * Explore one order per class of orders that differ only in how independent deliveries to the
   * two peers interleave (deliveries to different peers, neither caused by the other, commute:
   * each peer sees the same history). Exact only with stepMs 0, where time cannot tell them apart.
   */
  reduce?: boolean;
  maxSteps?: number;
}

/**
 * Runs `setup` then every delivery order until nothing is in flight. No timer runs, so anything
 * that needs a retry shows up as a failure of `check`.
 */
export function explore(
  setup: () => Pair,
  check: (pair: Pair) => string[],
  { stepMs = 0, reduce = stepMs === 0, maxSteps = 40 }: ExploreOptions = {},
): Exploration {
  const result: Exploration = { paths: 0, failures: [] };
  const stack: number[][] = [[]];
  while (stack.length > 0) {
    const path = stack.pop()!;
    const pair = setup();
    let lastTo: string | undefined;
    let boundary = 0;
    for (const choice of path) {
      pair.now += stepMs;
      lastTo = pair.inFlight[choice]!.to;
      boundary = pair.nextId;
      pair.deliver(choice);
    }
    if (pair.inFlight.length === 0 || path.length >= maxSteps) {
      result.paths++;
      const problems = pair.inFlight.length === 0 ? check(pair) : ["did not quiesce"];
      if (problems.length > 0 && result.failures.length < 20)
        result.failures.push({ path, problems });
      continue;
    }
    for (let i = pair.inFlight.length - 1; i >= 0; i--) {
      const m = pair.inFlight[i]!;
      // Canonical order: never a delivery to "a" right after an independent delivery to "b".
      if (reduce && lastTo === "b" && m.to === "a" && m.id < boundary) continue;
      stack.push([...path, i]);
    }
  }
  return result;
}
