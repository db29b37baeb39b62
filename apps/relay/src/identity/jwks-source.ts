/**
 * The issuer's public keys (a JWKS), for jose's `jwtVerify`: fetched from a URL or read from a
 * file, kept in memory, and never fetched per session. A token whose `kid` is not among the keys
 * makes one refetch, at most once per `refetchMs` (failed fetches count, so a flood of unknown
 * `kid`s or a dead endpoint cannot become a flood of fetches); a fetch is bounded in time and in
 * bytes. A JWKS that fails to load keeps the previous keys in service. Key selection within the set
 * is jose's `createLocalJWKSet`; jose's remote set is not used because it neither bounds the
 * response size nor rate-limits failed fetches.
 */

import { readFile, stat } from "node:fs/promises";
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

/** No usable keys: the JWKS could not be loaded (and none was loaded before, or a refetch failed). */
export class JwksUnavailable extends Error {}

export interface JwksSourceOptions {
  /** Exactly one of `url` and `file`. */
  url?: string;
  file?: string;
  refetchMs: number;
  maxAgeMs: number;
  timeoutMs: number;
  maxBytes: number;
  /** Monotonic milliseconds (virtual in tests). */
  now?: () => number;
}

type LocalKeys = ReturnType<typeof createLocalJWKSet>;

/** Fetches `url` within `timeoutMs` and `maxBytes`, and parses it as JSON. */
export async function fetchBounded(
  url: string,
  timeoutMs: number,
  maxBytes: number,
): Promise<unknown> {
  const signal = AbortSignal.timeout(timeoutMs);
  const response = await fetch(url, {
    signal,
    redirect: "error",
    headers: { accept: "application/jwk-set+json, application/json" },
  });
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new Error(`HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await response.body.cancel().catch(() => {});
    throw new Error(`JWKS of ${declared} bytes is over the ${maxBytes}-byte limit`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new Error(`JWKS is over the ${maxBytes}-byte limit`);
    }
    chunks.push(value);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function readBounded(file: string, maxBytes: number): Promise<unknown> {
  const size = (await stat(file)).size;
  if (size > maxBytes)
    throw new Error(`JWKS file of ${size} bytes is over the ${maxBytes}-byte limit`);
  return JSON.parse(await readFile(file, "utf8"));
}

export class JwksSource {
  readonly #options: JwksSourceOptions;
  readonly #now: () => number;
  #keys: LocalKeys | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #pending: Promise<boolean> | undefined;
  #lastError = "not loaded yet";
  /** Loads attempted and failed, for the metrics. */
  readonly loads = { ok: 0, failed: 0 };

  constructor(options: JwksSourceOptions) {
    if ((options.url === undefined) === (options.file === undefined))
      throw new TypeError("JwksSource: give exactly one of url and file");
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Why the last load failed, if it did. */
  get lastError(): string | undefined {
    return this.#lastError || undefined;
  }

  /** Keys in service. */
  get loaded(): boolean {
    return this.#keys !== undefined;
  }

  /** jose's key lookup: the key for a token's header, refetching at most once for an unknown kid. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const keys = this.#keys;
    if (!keys) {
      await this.#refresh();
      if (!this.#keys) throw new JwksUnavailable(`issuer keys unavailable: ${this.#lastError}`);
      return this.#keys(header, token);
    }
    if (this.#now() - this.#loadedAt > this.#options.maxAgeMs) void this.#refresh();
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      const refreshed = await this.#refresh();
      if (refreshed === undefined) throw error; // refetched recently: an unknown kid
      if (!refreshed) throw new JwksUnavailable(`issuer keys unavailable: ${this.#lastError}`);
      return this.#keys!(header, token);
    }
  };

  /** Loads now (at start, on SIGHUP, when the file changed), ignoring the refetch interval. */
  async reload(): Promise<boolean> {
    this.#lastAttempt = Number.NEGATIVE_INFINITY;
    return (await this.#refresh()) ?? false;
  }

  /**
   * One load at a time, at most one per `refetchMs` (a file has no interval: it is read only at
   * start and on reload). Whether the load succeeded; undefined when none was attempted.
   */
  async #refresh(): Promise<boolean | undefined> {
    if (this.#pending) return this.#pending;
    const now = this.#now();
    if (
      this.#options.file !== undefined
        ? this.#lastAttempt > Number.NEGATIVE_INFINITY
        : now - this.#lastAttempt < this.#options.refetchMs
    )
      return undefined;
    this.#lastAttempt = now;
    this.#pending = this.#load().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #load(): Promise<boolean> {
    const { url, file, timeoutMs, maxBytes } = this.#options;
    try {
      const json =
        url !== undefined
          ? await fetchBounded(url, timeoutMs, maxBytes)
          : await readBounded(file!, maxBytes);
      this.#keys = createLocalJWKSet(json as JSONWebKeySet);
      this.#loadedAt = this.#now();
      this.#lastError = "";
      this.loads.ok++;
      return true;
    } catch (error) {
      const name = (error as Error)?.name;
      this.#lastError =
        name === "TimeoutError" || name === "AbortError"
          ? `no answer within ${timeoutMs} ms`
          : ((error as Error)?.message ?? String(error)).slice(0, 200);
      this.loads.failed++;
      return false;
    }
  }
}
