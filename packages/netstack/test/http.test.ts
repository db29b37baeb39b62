import { describe, expect, it } from "vitest";
import { httpRequest } from "../src/http/client.js";
import { serveHttp } from "../src/http/server.js";
import { A4, B4, B6 } from "./pair.js";
import { netstackPair } from "./virtual-clock.js";

/** A client and a raw TCP server answering every request with `response`. */
function setup(response: string, options: { resetAfter?: boolean } = {}) {
  const { clock, a, b } = netstackPair(2);
  const requests: string[] = [];
  const server = b.listen(80);
  void (async () => {
    const connections = server.connections.getReader();
    for (;;) {
      const { value: conn } = await connections.read();
      if (!conn) return;
      const reader = conn.readable.getReader();
      let text = "";
      while (!text.includes("\r\n\r\n")) {
        const { value } = await reader.read();
        if (!value) break;
        text += new TextDecoder().decode(value);
      }
      requests.push(text);
      const w = conn.writable.getWriter();
      await w.write(new TextEncoder().encode(response));
      await w.close();
      // A server that answers before taking the whole body, then closes: its stack resets.
      if (options.resetAfter) await reader.cancel();
    }
  })();
  return { clock, a, requests };
}

async function fetchText(response: string) {
  const { clock, a, requests } = setup(response);
  let result: { status: number; headers: Record<string, string>; text: string } | Error | undefined;
  void httpRequest(a, { host: B6, path: "/x?y=1", headers: { Accept: "*/*" } })
    .then(async (r) => ({
      status: r.status,
      headers: r.headers,
      text: await new Response(r.body).text(),
    }))
    .then(
      (r) => (result = r),
      (e: Error) => (result = e),
    );
  await clock.run(() => result !== undefined);
  return { result, requests };
}

describe("HTTP/1.1 client over netstack TCP", () => {
  it("sends a well-formed request and reads a Content-Length body", async () => {
    const { result, requests } = await fetchText(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhelloEXTRA",
    );
    expect(requests[0]).toBe(
      `GET /x?y=1 HTTP/1.1\r\nhost: [${B6}]\r\nconnection: close\r\naccept: */*\r\n\r\n`,
    );
    expect(result).toEqual({
      status: 200,
      headers: { "content-length": "5", "x-a": "1, 2" },
      text: "hello",
    });
  });

  it("reads a chunked body with extensions and trailers", async () => {
    const { result } = await fetchText(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n6\r\npedia \r\n0\r\nTrailer: x\r\n\r\n",
    );
    expect(result).toMatchObject({ status: 200, text: "Wikipedia " });
  });

  it("reads a body delimited by the end of the connection", async () => {
    const { result } = await fetchText("HTTP/1.0 404 Not Found\r\n\r\nnothing here");
    expect(result).toMatchObject({ status: 404, text: "nothing here" });
  });

  it("keeps an answer sent before the whole body was taken, when the server then resets", async () => {
    const { clock, a, requests } = setup(
      "HTTP/1.1 303 See Other\r\nLocation: /landed\r\nContent-Length: 0\r\n\r\n",
      { resetAfter: true },
    );
    let result: { status: number; location?: string } | Error | undefined;
    void httpRequest(a, {
      host: B4,
      method: "POST",
      path: "/redirect",
      body: new Uint8Array(300_000),
    })
      .then(async (r) => {
        await new Response(r.body).arrayBuffer();
        return { status: r.status, location: r.headers.location };
      })
      .then(
        (r) => (result = r),
        (e: Error) => (result = e),
      );
    await clock.run(() => result !== undefined);
    expect(requests[0]).toMatch(/^POST \/redirect HTTP\/1\.1\r\n.*content-length: 300000\r\n/s);
    expect(result).toEqual({ status: 303, location: "/landed" });
  });

  it("rejects garbage with a precise message", async () => {
    expect((await fetchText("SSH-2.0-OpenSSH\r\n\r\n")).result).toMatchObject({
      message: "not an HTTP/1.x response: 'SSH-2.0-OpenSSH'",
    });
    expect(
      (await fetchText("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")).result,
    ).toMatchObject({
      message: "connection closed with 5 body bytes missing",
    });
  });
});

describe("HTTP/1.1 server on netstack TCP", () => {
  it("answers a request, and drops a client that sends no request head in time", async () => {
    const { clock, a, b } = netstackPair(2);
    void serveHttp(
      b.listen(80),
      (r) => ({ status: 200, body: `${r.method} ${r.target} from ${r.remote}` }),
      {
        headTimeout: 5000,
        clock,
      },
    );
    let text: string | undefined;
    void httpRequest(a, { host: B4, path: "/hello" }).then(
      async (r) => (text = await new Response(r.body).text()),
    );
    await clock.run(() => text !== undefined);
    expect(text).toBe(`GET /hello from ${A4}`);
    // A silent client: reset once the head timeout passes, not before.
    let error: unknown;
    let connectedAt = 0;
    void a.connect({ host: B4, port: 80 }).then((c) => {
      connectedAt = clock.now();
      return c.closed.catch((e) => (error = e));
    });
    await clock.run(() => error !== undefined);
    expect(error).toMatchObject({ kind: "reset" });
    expect(clock.now() - connectedAt).toBeGreaterThanOrEqual(5000);
    expect(clock.now() - connectedAt).toBeLessThan(5100);
  });
});
