/**
 * Browse's cookie jars (src/browse/cookies.ts): one per target, RFC 6265 by tough-cookie, and
 * bounded against a server that floods them (cookies per target, bytes per cookie, targets), and
 * kept in a store across reloads (persistent cookies until they expire, session cookies for the
 * browser session).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BrowseCookies,
  type JarStore,
  MAX_COOKIE_BYTES,
  MAX_COOKIES,
  MAX_JARS,
  type StoredJar,
} from "../src/browse/cookies.js";

const app = { host: "10.78.0.1", port: 8080 };
const other = { host: "10.78.0.1", port: 8081 };

describe("Browse cookie jars", () => {
  it("keeps HttpOnly cookies from scripts, paths apart, and one target's cookies from another", async () => {
    const jar = new BrowseCookies();
    await jar.fromResponse(
      app,
      "/login",
      ["session=s1; Path=/; HttpOnly", "theme=dark; Path=/", "deep=1; Path=/a"],
      "strict",
    );
    expect(await jar.header(app, "/", "strict")).toBe("session=s1; theme=dark");
    expect(await jar.header(app, "/a/b", "strict")).toBe("deep=1; session=s1; theme=dark");
    expect(await jar.forScript(app, "/")).toBe("theme=dark");
    // A script can neither replace nor add an HttpOnly cookie.
    await jar.fromScript(app, "/", "session=forged");
    await jar.fromScript(app, "/", "x=1; HttpOnly");
    expect(await jar.header(app, "/", "strict")).toBe("session=s1; theme=dark");
    expect(await jar.header(other, "/", "strict")).toBe("");
    // Max-Age=0 removes; SameSite=Strict stays home on a cross-site navigation.
    await jar.fromResponse(
      app,
      "/",
      ["theme=; Max-Age=0; Path=/", "strict=1; Path=/; SameSite=Strict"],
      "strict",
    );
    expect(await jar.header(app, "/", "lax")).toBe("session=s1");
  });

  it("holds at most MAX_COOKIES per target against a flood, keeping the newest", async () => {
    const jar = new BrowseCookies();
    await jar.fromResponse(app, "/", ["session=s1; Path=/"], "strict");
    for (let round = 0; round < 5; round++)
      await jar.fromResponse(
        other,
        "/",
        Array.from({ length: 100 }, (_, i) => `c${round}-${i}=v; Path=/`),
        "strict",
      );
    expect(await jar.count(other)).toBe(MAX_COOKIES);
    expect(await jar.header(other, "/", "strict")).toContain("c4-99=v");
    expect(await jar.header(other, "/", "strict")).not.toContain("c0-0=v");
    // The flood of one target leaves another's alone.
    expect(await jar.header(app, "/", "strict")).toBe("session=s1");
    // Over-long cookies are refused, by response and by script.
    const long = `big=${"x".repeat(MAX_COOKIE_BYTES)}`;
    await jar.fromResponse(app, "/", [long], "strict");
    await jar.fromScript(app, "/", long);
    expect(await jar.count(app)).toBe(1);
  });

  it("keeps at most MAX_JARS targets, forgetting the least recently used", async () => {
    const jar = new BrowseCookies();
    for (let port = 1; port <= MAX_JARS + 1; port++)
      await jar.fromResponse({ host: "10.0.0.1", port }, "/", [`p=${port}`], "strict");
    expect(await jar.header({ host: "10.0.0.1", port: 1 }, "/", "strict")).toBe("");
    expect(await jar.header({ host: "10.0.0.1", port: MAX_JARS + 1 }, "/", "strict")).toBe(
      `p=${MAX_JARS + 1}`,
    );
  });
});

/** A store in memory, as the Wiregate origin's IndexedDB keeps jars (structured clones). */
function memoryStore(): JarStore & { records: Map<string, StoredJar> } {
  const records = new Map<string, StoredJar>();
  return {
    records,
    load: async (key) => structuredClone(records.get(key)),
    save: async (key, jar) => void records.set(key, structuredClone(jar)),
    remove: async (key) => void records.delete(key),
  };
}

describe("Browse cookie jars across reloads", () => {
  afterEach(() => vi.useRealTimers());

  it("keeps persistent cookies until they expire, and session cookies for the browser session", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
    const store = memoryStore();
    const before = new BrowseCookies({ store, session: "tab-1" });
    await before.fromResponse(
      app,
      "/login",
      ["session=s1; Path=/; HttpOnly", "remember=r1; Path=/; Max-Age=3600", "short=1; Max-Age=60"],
      "strict",
    );
    await before.fromScript(app, "/", "theme=dark; Path=/");
    await before.flushed();
    // A reload of the same tab: everything is there.
    const reloaded = new BrowseCookies({ store, session: "tab-1" });
    expect(await reloaded.header(app, "/", "strict")).toBe(
      "session=s1; remember=r1; short=1; theme=dark",
    );
    // Two minutes later, in a new browser session: the session cookies and the expired one are
    // gone, and the stored jar no longer has them once it was written again.
    vi.setSystemTime(new Date("2026-01-01T00:02:00Z"));
    const restarted = new BrowseCookies({ store, session: "tab-2" });
    expect(await restarted.header(app, "/", "strict")).toBe("remember=r1");
    await restarted.fromResponse(app, "/", ["later=1; Path=/; Max-Age=600"], "strict");
    await restarted.flushed();
    const stored = store.records.get("http://10.78.0.1:8080")!;
    expect(stored.session).toBe("tab-2");
    expect(stored.jar.cookies.map((c) => c.key).sort()).toEqual(["later", "remember"]);
    // An hour later the persistent one has expired too.
    vi.setSystemTime(new Date("2026-01-01T01:03:00Z"));
    expect(await new BrowseCookies({ store, session: "tab-2" }).header(app, "/", "strict")).toBe(
      "",
    );
  });

  it("keeps at most MAX_JARS targets in the store too, and a store that fails leaves the jar in memory", async () => {
    const store = memoryStore();
    const jar = new BrowseCookies({ store, session: "s" });
    for (let port = 1; port <= MAX_JARS + 1; port++)
      await jar.fromResponse({ host: "10.0.0.1", port }, "/", [`p=${port}; Max-Age=600`], "strict");
    await jar.flushed();
    expect(store.records.size).toBe(MAX_JARS);
    expect(store.records.has("http://10.0.0.1:1")).toBe(false);
    const failing: JarStore = {
      load: () => Promise.reject(new Error("no storage")),
      save: () => Promise.reject(new Error("quota")),
      remove: () => Promise.reject(new Error("no storage")),
    };
    const memoryOnly = new BrowseCookies({ store: failing, session: "s" });
    await memoryOnly.fromResponse(app, "/", ["a=1"], "strict");
    await memoryOnly.flushed();
    expect(await memoryOnly.header(app, "/", "strict")).toBe("a=1");
  });
});
