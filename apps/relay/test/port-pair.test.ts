import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { holdPortPair } from "../src/port-pair.js";

const bindUdp = (port: number) =>
  new Promise<string>((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve("bound")));
  });

const listenTcp = (port: number) =>
  new Promise<string>((resolve) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve("bound")));
  });

describe("holdPortPair", () => {
  it("finds a port free for TCP whose UDP side no other socket can take until released", async () => {
    const held = await holdPortPair("127.0.0.1");
    expect(held.port).toBeGreaterThan(0);
    expect(await listenTcp(held.port)).toBe("bound");
    // Another socket (without SO_REUSEADDR, as an upstream socket) cannot take the UDP number.
    expect(await bindUdp(held.port)).toBe("EADDRINUSE");
    await held.release();
    expect(await bindUdp(held.port)).toBe("bound");
  });
});
