/**
 * The cookie jars of Browse, in the tunnel worker: one per target (host and port), RFC 6265 by
 * tough-cookie (path, expiry, Max-Age, HttpOnly, SameSite, Secure, domain matching against the
 * public suffix list). A Service Worker's answer cannot set the browser's cookies, and the
 * browser's cookies of a Browse origin are not the server's anyway: the jar is the server's view.
 * It lives here, not in the origin's Service Worker, because a browser stops that worker when idle;
 * it lasts as long as the Wiregate page (a reload of the page empties it, as a private window's).
 * One jar per target: a target's cookies are never sent to, or read by, another.
 */
import { CookieJar } from "tough-cookie";
import { type Target, targetOrigin } from "./target.js";

/** How the request relates to the target's site (RFC 6265bis "same-site" request). */
export type SameSiteContext = "strict" | "lax" | "none";

/** At most this many targets' jars; the least recently used goes first. */
export const MAX_JARS = 64;
/**
 * At most this many cookies per target (browsers keep about 180 per domain): a server that sends
 * more loses its oldest. A Set-Cookie line longer than MAX_COOKIE_BYTES is refused (RFC 6265bis
 * caps a cookie's name and value at 4096 bytes).
 */
export const MAX_COOKIES = 180;
export const MAX_COOKIE_BYTES = 4096;

export class BrowseCookies {
  readonly #jars = new Map<string, CookieJar>();

  #jar(target: Target): CookieJar {
    const key = targetOrigin(target);
    let jar = this.#jars.get(key);
    if (jar) this.#jars.delete(key);
    else jar = new CookieJar();
    this.#jars.set(key, jar);
    while (this.#jars.size > MAX_JARS) this.#jars.delete(this.#jars.keys().next().value!);
    return jar;
  }

  /** The Cookie header for a request to `path` on `target` (HttpOnly cookies included). */
  header(target: Target, path: string, sameSiteContext: SameSiteContext): Promise<string> {
    return this.#jar(target).getCookieString(`${targetOrigin(target)}${path}`, {
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
    const jar = this.#jar(target);
    const url = `${targetOrigin(target)}${path}`;
    for (const line of lines)
      if (line.length <= MAX_COOKIE_BYTES)
        await jar.setCookie(line, url, { http: true, sameSiteContext, ignoreError: true });
    await bound(jar);
  }

  /** How many cookies the jar of `target` holds (for tests and the bound). */
  async count(target: Target): Promise<number> {
    return (await this.#jar(target).store.getAllCookies()).length;
  }

  /** What `document.cookie` reads on `path`: no HttpOnly cookies. */
  forScript(target: Target, path: string): Promise<string> {
    return this.#jar(target).getCookieString(`${targetOrigin(target)}${path}`, {
      http: false,
      sameSiteContext: "strict",
    });
  }

  /** A `document.cookie = …` of the app's scripts: it may not set or replace an HttpOnly cookie. */
  async fromScript(target: Target, path: string, cookie: string): Promise<void> {
    if (cookie.length > MAX_COOKIE_BYTES) return;
    const jar = this.#jar(target);
    await jar.setCookie(cookie, `${targetOrigin(target)}${path}`, {
      http: false,
      sameSiteContext: "strict",
      ignoreError: true,
    });
    await bound(jar);
  }
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
