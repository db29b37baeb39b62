import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay, RelayAddress } from "../src/relay.js";
import { connect, type Echo, seqOf, startEcho, startRelay, transportMessage } from "./helpers.js";

let echo: Echo;
let relay: Relay;
let address: RelayAddress;

beforeAll(async () => {
  echo = await startEcho();
  ({ relay, address } = await startRelay(echo.port));
});
afterAll(async () => {
  await relay.stop(100);
  await echo.close();
});

describe("relay", () => {
  it("carries datagrams to the upstream and back", async () => {
    const conn = await connect(address);
    expect(conn.welcome.transport).toBe("http2");
    expect(conn.welcome.datagramSize).toBe(1452);
    const iterator = conn.datagrams[Symbol.asyncIterator]();
    for (let i = 0; i < 100; i++) conn.send(transportMessage(i));
    const seen: number[] = [];
    while (seen.length < 100) {
      const next = await iterator.next();
      if (next.done) break;
      seen.push(seqOf(next.value));
    }
    expect(seen).toEqual([...Array(100).keys()]);
    conn.close();
  });
});
