/**
 * The worker's table of relay sessions (src/relay-sessions.ts): a page that goes away closes every
 * session it holds with its reason, whoever opened it (the tunnel, a fleet's dials, a raw flood),
 * and each that finishes opening while the page is away; once shown again, sessions stay open.
 * The page is told the close beacons of the sessions open, whenever they change. A unit test of the one module, with stand-in connections; the browsers and the relay are in
 * page-gone.test.ts.
 */
import { type CloseInfo, GOING_AWAY, type RelayConnection } from "@wiregate/relay-protocol";
import { describe, expect, it } from "vitest";
import type { CloseBeacon } from "../src/protocol.js";
import { RelaySessions } from "../src/relay-sessions.js";

type Stand = RelayConnection & { closedWith: (CloseInfo | undefined)[] };
let made = 0;

/** A connection that records how it was closed and resolves `closed` then. */
function connection(): Stand {
  let resolve!: () => void;
  const closed = new Promise<{ error?: undefined }>((r) => {
    resolve = () => r({});
  });
  const closedWith: (CloseInfo | undefined)[] = [];
  const n = (made++).toString(16).padStart(16, "0");
  return {
    welcome: { sessionId: n, closeToken: n.repeat(2) },
    closed,
    closedWith,
    close(info?: CloseInfo) {
      closedWith.push(info);
      resolve();
    },
  } as unknown as Stand;
}

describe("RelaySessions", () => {
  it("closes every open session with the page's reason, and each that opens while it is away", async () => {
    const sessions = new RelaySessions();
    let beacons: CloseBeacon[] = [];
    sessions.watch((told) => {
      beacons = told;
    });
    const relay = "https://relay.example:4433/wiregate";
    const add = () => sessions.add(connection(), relay) as Stand;
    const tunnel = add();
    const flood = add();
    const gone = add();
    gone.close();
    await gone.closed;
    expect(sessions.size).toBe(2);
    expect(beacons).toEqual(
      [tunnel, flood].map((c) => ({
        url: "https://relay.example:4433/wiregate/close",
        body: `${c.welcome.sessionId} ${c.welcome.closeToken}`,
      })),
    );
    sessions.closeAll(GOING_AWAY);
    expect(tunnel.closedWith).toEqual([GOING_AWAY]);
    expect(flood.closedWith).toEqual([GOING_AWAY]);
    expect(gone.closedWith).toEqual([undefined]);
    expect(sessions.size).toBe(0);
    expect(beacons).toEqual([]);
    const late = add();
    expect(late.closedWith).toEqual([GOING_AWAY]);
    expect(sessions.size).toBe(0);
    sessions.back();
    const again = add();
    expect(again.closedWith).toEqual([]);
    expect(sessions.size).toBe(1);
  });
});
