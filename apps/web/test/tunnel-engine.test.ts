// The tunnel MTU a relay session allows (docs/web.md, "MTU").
import { describe, expect, it } from "vitest";
import { sessionLimits } from "../src/tunnel-engine.js";

describe("sessionLimits", () => {
  it("over WebSocket, with the relay's default limit: 1452 → MTU 1420", () => {
    expect(sessionLimits({ datagramSize: 1452 }, 0)).toEqual({ datagramSize: 1452, mtu: 1420 });
  });

  it("over HTTP/3, the relay's message limit keeps the MTU above the browser's datagram limit", () => {
    expect(sessionLimits({ datagramSize: 1452, messageSize: 1452 }, 1211)).toEqual({
      datagramSize: 1211,
      mtu: 1420,
    });
  });

  it("without a message limit, the smaller datagram limit sets the MTU", () => {
    expect(sessionLimits({ datagramSize: 1452 }, 1211)).toEqual({ datagramSize: 1211, mtu: 1179 });
    expect(sessionLimits({ datagramSize: 1200 }, 1400)).toEqual({ datagramSize: 1200, mtu: 1168 });
  });
});
