/**
 * Persistent HTTP/1.1 connections (HttpConnection) against a raw TCP server on another netstack,
 * in virtual time: several requests on one connection, the framings that allow reuse and the ones
 * that do not, interim answers, streamed request bodies, and a server that closes while idle.
 */
import { describe, expect, it } from "vitest";
import { HttpConnection, HttpNoResponseError, replayable } from "../src/http/connection.js";
import { B4 } from "./pair.js";
import { serveRaw, settle } from "./raw-http.js";
import { netstackPair, type VirtualClock } from "./virtual-clock.js";

/** One exchange on `conn`: status, body text and whether the connection was kept. */
async function exchange(
  clock: VirtualClock,
  conn: HttpConnection,
  request: Parameters<HttpConnection["request"]>[0],
) {
  return settle(
    clock,
    (async () => {
      const answer = await conn.request(request);
      const body = await new Response(answer.body).text();
      return { status: answer.status, body, reused: await answer.done };
    })(),
  );
}

function setup(answers: string[]) {
  const { clock, a, b } = netstackPair(2);
  const server = serveRaw(b, answers);
  return { clock, a, ...server };
}

const OK = (body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

const bytes = (s: string) => new TextEncoder().encode(s);

describe("HttpConnection: persistent HTTP/1.1", () => {
  it("carries requests one after another on one connection (length, chunked, no-body answers)", async () => {
    const { clock, a, seen } = setup([
      OK("one"),
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n",
      "HTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n" +
        OK("last"),
    ]);
    const conn = new HttpConnection(await settle(clock, a.connect({ host: B4, port: 80 })));
    expect(await exchange(clock, conn, { host: B4, path: "/1" })).toEqual({
      status: 200,
      body: "one",
      reused: true,
    });
    for (const [path, method, status, body] of [
      ["/2", "GET", 200, "two"],
      ["/3", "GET", 204, ""],
      ["/4", "GET", 304, ""],
      // The answer to HEAD names a length but has no body.
      ["/5", "HEAD", 200, ""],
    ] as const)
      expect(await exchange(clock, conn, { host: B4, method, path })).toEqual({
        status,
        body,
        reused: true,
      });
    // Interim answers are skipped; head and body leave together.
    expect(
      await exchange(clock, conn, { host: B4, method: "POST", path: "/6", body: bytes("hi") }),
    ).toEqual({ status: 200, body: "last", reused: true });
    expect(seen.map((s) => s.connection)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(seen[0]!.request).toBe(`GET /1 HTTP/1.1\r\nhost: ${B4}\r\n\r\n`);
    expect(seen[5]!.request).toBe(`POST /6 HTTP/1.1\r\nhost: ${B4}\r\ncontent-length: 2\r\n\r\nhi`);
    expect(conn.requests).toBe(6);
    expect(conn.usable).toBe(true);
  });

  it.each([
    ["ends by the close of the connection", "HTTP/1.1 200 OK\r\n\r\nto the end<close>"],
    ["is HTTP/1.0", "HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nold"],
    ["says Connection: close", OK("bye", "connection: keep-alive, close\r\n")],
    [
      "has both a length and chunked coding",
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    ],
  ])("does not reuse a connection whose answer %s", async (_, answer) => {
    const { clock, a } = setup([answer]);
    const conn = new HttpConnection(await settle(clock, a.connect({ host: B4, port: 80 })));
    expect(await exchange(clock, conn, { host: B4, path: "/" })).toMatchObject({
      status: 200,
      reused: false,
    });
    expect(conn.usable).toBe(false);
    await expect(conn.request({ host: B4, path: "/" })).rejects.toThrow("closed, not idle");
  });

  it("says Connection: close when asked to, and then does not keep it", async () => {
    const { clock, a, seen } = setup([OK("x")]);
    const conn = new HttpConnection(await settle(clock, a.connect({ host: B4, port: 80 })));
    const answer = await settle(clock, conn.request({ host: B4, path: "/" }, { keepAlive: false }));
    expect(await settle(clock, new Response(answer.body).text())).toBe("x");
    expect(await answer.done).toBe(false);
    expect(seen[0]!.request).toContain("connection: close\r\n");
  });

  it("is not usable once the server closed it while idle; a request crossing that close gets HttpNoResponseError", async () => {
    const { clock, a } = setup([OK("one"), "CLOSE", `${OK("three")}<close>`]);
    const conn = new HttpConnection(await settle(clock, a.connect({ host: B4, port: 80 })));
    expect(await exchange(clock, conn, { host: B4, path: "/1" })).toMatchObject({ reused: true });
    // The server closes at the next request: no byte of an answer comes back.
    const crossed = await settle(clock, conn.request({ host: B4, path: "/2" })).catch((e) => e);
    expect(crossed).toBeInstanceOf(HttpNoResponseError);
    expect(replayable({ host: B4, path: "/2" })).toBe(true);
    expect(replayable({ host: B4, method: "POST", path: "/2" })).toBe(false);
    expect(replayable({ host: B4, method: "PUT", path: "/", body: new ReadableStream() })).toBe(
      false,
    );
    // A second connection: its server closes after the answer; the FIN, seen while it is idle,
    // makes it unusable.
    const second = new HttpConnection(await settle(clock, a.connect({ host: B4, port: 80 })));
    expect(await exchange(clock, second, { host: B4, path: "/3" })).toMatchObject({ reused: true });
    expect(await clock.run(() => !second.usable)).toBe(true);
  });

  it("streams a request body of unknown length with chunked coding, and a known one as is", async () => {
    const { clock, a, seen } = setup([OK("a"), OK("b")]);
    const conn = new HttpConnection(await settle(clock, a.connect({ host: B4, port: 80 })));
    const stream = (parts: string[]) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          for (const p of parts) c.enqueue(bytes(p));
          c.close();
        },
      });
    // The raw server reads by Content-Length; the chunked body is checked where it arrives.
    await exchange(clock, conn, {
      host: B4,
      method: "PUT",
      path: "/known",
      body: stream(["ab", "cd"]),
      bodyLength: 4,
    });
    expect(seen[0]!.request).toBe(
      `PUT /known HTTP/1.1\r\nhost: ${B4}\r\ncontent-length: 4\r\n\r\nabcd`,
    );
    const wrong = await settle(
      clock,
      conn.request({ host: B4, method: "PUT", path: "/", body: stream(["abc"]), bodyLength: 2 }),
    ).catch((e: Error) => e);
    expect(String(wrong)).toBe("Error: request body longer than its 2 bytes");
    expect(conn.usable).toBe(false);
  });

  it.each([
    [
      "a bad chunk size",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1g\r\nx\r\n0\r\n\r\n",
      "bad chunk size '1g'",
    ],
    [
      "a bad length",
      "HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\nhello",
      "bad Content-Length '5, 6'",
    ],
    [
      "endless interim answers",
      "HTTP/1.1 103 Early Hints\r\n\r\n".repeat(20),
      "more than 16 interim answers",
    ],
  ])("rejects %s with a clear error and closes the connection", async (_, answer, message) => {
    const { clock, a } = setup([answer]);
    const conn = new HttpConnection(await settle(clock, a.connect({ host: B4, port: 80 })));
    const error = await exchange(clock, conn, { host: B4, path: "/" }).catch((e: Error) => e);
    expect(String(error)).toContain(message);
    expect(conn.usable).toBe(false);
  });
});
