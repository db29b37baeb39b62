/**
 * A page's close beacon (close-beacon.ts; docs/relay.md, "How sessions end"): `POST /wiregate/close`
 * with a session's id and the `closeToken` of its welcome ends that session as closed by its client
 * with `GOING_AWAY`, over HTTP/1.1 and HTTP/2; anything else changes nothing and is answered with
 * why. Against the relay process.
 */

import { connect as http2Connect } from "node:http2";
import { request } from "node:https";
import { GOING_AWAY, type RelayConnection } from "@wiregate/relay-protocol";
import { describe, expect, it } from "vitest";
import { connect } from "./helpers.js";
import { lineMatching, type RelayProcess, relayProcesses } from "./relay-process.js";

const { relayWith } = relayProcesses();

type Reply = { status: number; body: string };

/** A POST over TLS as a browser's `sendBeacon` makes it, HTTP/1.1 or HTTP/2. */
function post(
  relay: RelayProcess,
  path: string,
  body: string | Buffer,
  http2: boolean,
): Promise<Reply> {
  const { port } = relay.address;
  return new Promise((resolve, reject) => {
    if (!http2) {
      const req = request(
        { host: "127.0.0.1", port, path, method: "POST", rejectUnauthorized: false },
        (res) => {
          let text = "";
          res.on("data", (chunk) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("error", reject).end(body);
      return;
    }
    const session = http2Connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path });
    let status = 0;
    let text = "";
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", (chunk) => (text += chunk));
    stream.on("end", () => {
      session.close();
      resolve({ status, body: text });
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

const beaconOf = (conn: RelayConnection) => `${conn.welcome.sessionId} ${conn.welcome.closeToken}`;

describe("a page's close beacon", () => {
  it("ends the session it names as closed by its client, going away, over HTTP/1.1 and HTTP/2", async () => {
    const relay = await relayWith([]);
    for (const http2 of [false, true]) {
      const conn = await connect(relay.address, { transport: "http3" });
      expect(conn.welcome.closeToken).toMatch(/^[0-9a-f]{32}$/);
      expect(await post(relay, "/wiregate/close", beaconOf(conn), http2)).toEqual({
        status: 204,
        body: "",
      });
      const line = JSON.parse(
        await lineMatching(relay.lines, (l) => l.includes('"session closed"')),
      ) as Record<string, unknown>;
      expect(line).toMatchObject({
        session: conn.welcome.sessionId,
        reason: "client-closed",
        closeCode: GOING_AWAY.closeCode,
        closeReason: GOING_AWAY.reason,
        closeVia: "beacon",
      });
      await conn.closed;
    }
  }, 30_000);

  it("changes nothing for a wrong token, an unknown session or garbage, and says why", async () => {
    const relay = await relayWith([]);
    const conn = await connect(relay.address, { transport: "http3" });
    const { sessionId, closeToken } = conn.welcome;
    const wrongToken = `${sessionId} ${closeToken!.replace(/^./, (c) => (c === "0" ? "1" : "0"))}`;
    for (const http2 of [false, true]) {
      const answers = [
        await post(relay, "/wiregate/close", wrongToken, http2),
        await post(relay, "/wiregate/close", `0123456789abcdef ${closeToken}`, http2),
        await post(relay, "/wiregate/close", "", http2),
        await post(relay, "/wiregate/close", `${sessionId}`, http2),
        await post(relay, "/wiregate/close", `${sessionId} ${closeToken} more`, http2),
        await post(relay, "/wiregate/close", `${sessionId.toUpperCase()} ${closeToken}`, http2),
        await post(relay, "/wiregate/close", Buffer.alloc(64 * 1024, 0x61), http2),
      ];
      expect(answers).toEqual([
        { status: 404, body: "no such session\n" },
        { status: 404, body: "no such session\n" },
        { status: 400, body: "the body must be '<sessionId> <closeToken>'\n" },
        { status: 400, body: "the body must be '<sessionId> <closeToken>'\n" },
        { status: 400, body: "the body must be '<sessionId> <closeToken>'\n" },
        { status: 400, body: "sessionId must be 16 hex digits\n" },
        { status: 413, body: "body too large\n" },
      ]);
    }
    // The session is still open: the relay answers it.
    expect((await conn.stats()).type).toBe("stats");
    conn.close();
  }, 30_000);
});
