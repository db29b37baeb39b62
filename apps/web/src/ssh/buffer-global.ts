/**
 * The SSH library and its browserify dependencies (`diffie-hellman`, for its finite-field key
 * exchange) expect Node.js's globals: `Buffer` (the `buffer` package's), `global`, and a
 * `process` they only look at to learn that this is not Node.js (the keys library reads
 * `process.versions.node`; `randombytes` calls `nextTick` for callbacks). Set before they load
 * (screen.ts imports this first), only by this lazy chunk.
 */
import { Buffer } from "buffer";

const scope = globalThis as {
  Buffer?: typeof Buffer;
  global?: typeof globalThis;
  process?: object;
};
scope.Buffer ??= Buffer;
scope.global ??= globalThis;
scope.process ??= {
  browser: true,
  env: {},
  versions: {},
  nextTick: (f: (...args: unknown[]) => void, ...args: unknown[]) =>
    queueMicrotask(() => f(...args)),
};
