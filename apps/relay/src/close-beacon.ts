/**
 * A page's last word (docs/relay.md, "How sessions end"). A page that goes away closes its
 * sessions from its tunnel worker, but the worker may not get to it (busy when the page went, or
 * ended by the browser first); so the page also sends `navigator.sendBeacon` to `<path>/close` on the relay's
 * TLS port, body `<sessionId> <closeToken>` (the token of the session's welcome, known only to its
 * client), and the relay ends that session as closed by its client with `GOING_AWAY`.
 */
import type { Readable } from "node:stream";
import { CLOSE_TOKEN } from "@wiregate/relay-protocol";
import type { RelaySession } from "./session.js";

/** A body longer than this is refused unread (a real one is 49 bytes). */
export const CLOSE_BEACON_MAX_BYTES = 256;

const SESSION_ID = /^[0-9a-f]{16}$/;

/** The session id and token of a beacon's body, or why it is not one. */
export function parseCloseBeacon(
  body: string,
): { ok: true; sessionId: string; closeToken: string } | { ok: false; why: string } {
  const [sessionId, closeToken, ...rest] = body.trim().split(" ");
  if (rest.length > 0 || !sessionId || !closeToken)
    return { ok: false, why: "the body must be '<sessionId> <closeToken>'" };
  if (!SESSION_ID.test(sessionId)) return { ok: false, why: "sessionId must be 16 hex digits" };
  if (!CLOSE_TOKEN.test(closeToken)) return { ok: false, why: "closeToken must be 32 hex digits" };
  return { ok: true, sessionId, closeToken };
}

export interface BeaconAnswer {
  status: 204 | 400 | 404 | 413;
  text: string;
}

/**
 * Ends the session a beacon names when its token is that session's. An unknown session and a
 * wrong token get the same answer: the beacon tells nobody which sessions exist.
 */
export function answerCloseBeacon(body: string, sessions: Iterable<RelaySession>): BeaconAnswer {
  const parsed = parseCloseBeacon(body);
  if (!parsed.ok) return { status: 400, text: `${parsed.why}\n` };
  for (const session of sessions) {
    if (session.ctx.id !== parsed.sessionId) continue;
    if (session.closeByBeacon(parsed.closeToken)) return { status: 204, text: "" };
    break;
  }
  return { status: 404, text: "no such session\n" };
}

/** The request's body as text, or undefined when it is over `max` bytes (the rest unread). */
export function readBody(
  request: Readable,
  max = CLOSE_BEACON_MAX_BYTES,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        request.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", () => resolve(undefined));
  });
}
