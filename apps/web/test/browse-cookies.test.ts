/**
 * Browse's cookie jars (src/browse/cookies.ts): one per target, RFC 6265 by tough-cookie, and
 * bounded against a server that floods them (cookies per target, bytes per cookie, targets).
 */
import { describe, expect, it } from "vitest";
import { BrowseCookies, MAX_COOKIE_BYTES, MAX_COOKIES, MAX_JARS } from "../src/browse/cookies.js";

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
