/**
 * The cookie jars of Browse, in the tunnel worker: one per target (host and port), RFC 6265 by
 * tough-cookie (path, expiry, Max-Age, HttpOnly, SameSite, Secure, domain matching against the
 * public suffix list). A Service Worker's answer cannot set the browser's cookies, and the
 * browser's cookies of a Browse origin are not the server's anyway: the jar is the server's view.
 * It lives here, not in the origin's Service Worker, because a browser stops that worker when idle.
 * One jar per target: a target's cookies are never sent to, or read by, another.
 *
 * Kept across reloads of the Wiregate page as a browser keeps cookies: each jar is written, after
 * every change, to a `JarStore` (the Wiregate origin's IndexedDB, cookie-store.ts, which no Browse
 * origin can read). Persistent cookies stay until they expire (expired ones are dropped when a
 * jar is loaded or saved); session cookies (no Expires or Max-Age) stay as long as the browser
 * session of the Wiregate tab: its reloads keep them, a new tab or a restarted browser does not.
 */
import { CookieJar, type SerializedCookieJar } from "tough-cookie";
import { type Target, targetOrigin } from "./target.js";

/** How the request relates to the target's site (RFC 6265bis "same-site" request). */
export type SameSiteContext = "strict" | "lax" | "none";

/** At most this many targets' jars; the least recently used goes first (from the store too). */
export const MAX_JARS = 64;
/**
 * At most this many cookies per target (browsers keep about 180 per domain): a server that sends
 * more loses its oldest. A Set-Cookie line longer than MAX_COOKIE_BYTES is refused (RFC 6265bis
 * caps a cookie's name and value at 4096 bytes).
 */
export const MAX_COOKIES = 180;
export const MAX_COOKIE_BYTES = 4096;

/** A jar as stored: its cookies, and the browser session its session cookies belong to. */
export interface StoredJar {
  session: string;
  jar: SerializedCookieJar;
}

/** Where jars are kept between reloads, by target origin. */
export interface JarStore {
  load(key: string): Promise<StoredJar | undefined>;
  save(key: string, jar: StoredJar): Promise<void>;
  remove(key: string): Promise<void>;
}

export class BrowseCookies {
  readonly #jars = new Map<string, Promise<CookieJar>>();
  /** Each target's last write to the store, so writes land in order. */
  readonly #writes = new Map<string, Promise<void>>();
  readonly #store: JarStore | undefined;
  readonly #session: string;

  /** `session` names this browser session (the Wiregate tab's); without a store, memory only. */
  constructor(options: { store?: JarStore; session?: string } = {}) {
    this.#store = options.store;
    this.#session = options.session ?? "";
  }

  #jar(target: Target): Promise<CookieJar> {
    const key = targetOrigin(target);
    let jar = this.#jars.get(key);
    if (jar) this.#jars.delete(key);
    else jar = this.#load(key);
    this.#jars.set(key, jar);
    while (this.#jars.size > MAX_JARS) {
      const oldest = this.#jars.keys().next().value!;
      this.#jars.delete(oldest);
      this.#write(oldest, () => this.#store?.remove(oldest));
    }
    return jar;
  }

  async #load(key: string): Promise<CookieJar> {
    const stored = await this.#store?.load(key).catch(() => undefined);
    if (!stored) return new CookieJar();
    const jar = await CookieJar.deserialize(stored.jar).catch(() => new CookieJar());
    // Another browser session's session cookies are gone, as a browser's are.
    await prune(jar, stored.session !== this.#session);
    return jar;
  }

  #write(key: string, write: () => Promise<void> | undefined): void {
    const previous = this.#writes.get(key) ?? Promise.resolve();
    const next = previous.then(write).catch(() => {
      // A store that cannot write (storage full, private mode): the jar still works in memory.
    });
    this.#writes.set(key, next);
    void next.then(() => {
      if (this.#writes.get(key) === next) this.#writes.delete(key);
    });
  }

  /** Saves the jar of `target` (expired cookies dropped first). */
  async #save(target: Target, jar: CookieJar): Promise<void> {
    if (!this.#store) return;
    const key = targetOrigin(target);
    await prune(jar, false);
    const serialized = await jar.serialize();
    this.#write(key, () => this.#store?.save(key, { session: this.#session, jar: serialized }));
  }

  /** Resolves once every write to the store so far has landed (for tests). */
  async flushed(): Promise<void> {
    await Promise.all([...this.#writes.values()]);
  }

  /** The Cookie header for a request to `path` on `target` (HttpOnly cookies included). */
  async header(target: Target, path: string, sameSiteContext: SameSiteContext): Promise<string> {
    return (await this.#jar(target)).getCookieString(`${targetOrigin(target)}${path}`, {
      http: true,
      sameSiteContext,
    });
  }

  /** Takes a response's Set-Cookie lines; ones the RFC refuses are dropped, as a browser does. */
  async fromResponse(
    target: Target,
    path: string,
    lines: readonly string[],
    sameSiteContext: SameSiteContext,
  ): Promise<void> {
    const jar = await this.#jar(target);
    const url = `${targetOrigin(target)}${path}`;
    for (const line of lines)
      if (line.length <= MAX_COOKIE_BYTES)
        await jar.setCookie(line, url, { http: true, sameSiteContext, ignoreError: true });
    await bound(jar);
    await this.#save(target, jar);
  }

  /** How many cookies the jar of `target` holds (for tests and the bound). */
  async count(target: Target): Promise<number> {
    return (await (await this.#jar(target)).store.getAllCookies()).length;
  }

  /** What `document.cookie` reads on `path`: no HttpOnly cookies. */
  async forScript(target: Target, path: string): Promise<string> {
    return (await this.#jar(target)).getCookieString(`${targetOrigin(target)}${path}`, {
      http: false,
      sameSiteContext: "strict",
    });
  }

  /** A `document.cookie = …` of the app's scripts: it may not set or replace an HttpOnly cookie. */
  async fromScript(target: Target, path: string, cookie: string): Promise<void> {
    if (cookie.length > MAX_COOKIE_BYTES) return;
    const jar = await this.#jar(target);
    await jar.setCookie(cookie, `${targetOrigin(target)}${path}`, {
      http: false,
      sameSiteContext: "strict",
      ignoreError: true,
    });
    await bound(jar);
    await this.#save(target, jar);
  }
}

/** Drops expired cookies, and session cookies too when `sessions`. */
async function prune(jar: CookieJar, sessions: boolean): Promise<void> {
  const now = Date.now();
  for (const cookie of await jar.store.getAllCookies())
    if ((sessions && !cookie.isPersistent()) || (cookie.expiryTime() ?? Infinity) <= now)
      await jar.store.removeCookie(cookie.domain, cookie.path, cookie.key);
}

/** Drops the oldest cookies of a jar over MAX_COOKIES. */
async function bound(jar: CookieJar): Promise<void> {
  const all = await jar.store.getAllCookies();
  if (all.length <= MAX_COOKIES) return;
  const time = (c: (typeof all)[number]) => (c.creation instanceof Date ? c.creation.getTime() : 0);
  all.sort((a, b) => time(a) - time(b) || (a.creationIndex ?? 0) - (b.creationIndex ?? 0));
  for (const old of all.slice(0, all.length - MAX_COOKIES))
    await jar.store.removeCookie(old.domain, old.path, old.key);
}
