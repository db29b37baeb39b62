// Browse's keep-alive pool (src/browse/http-pool.ts) on netstack TCP in virtual time, against a
// raw HTTP/1.1 server on another netstack: reuse per target, the per-target and total bounds
// under a flood of requests, the queue's bound, the idle timeout, and a server that closes an
// idle connection (seen, or crossing the next request: sent again once if idempotent).
import { describe, expect, it } from "vitest";
import { B4 } from "../../../packages/netstack/test/pair.js";
import { type Answer, serveRaw, settle } from "../../../packages/netstack/test/raw-http.js";
import { netstackPair } from "../../../packages/netstack/test/virtual-clock.js";
import { HttpPool, POOL_LIMITS, type PoolLimits } from "../src/browse/http-pool.js";

const OK = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;

function setup(answers: Record<number, Answer[]>, limits: Partial<PoolLimits> = {}) {
  const { clock, a, b } = netstackPair(2);
  const servers = Object.fromEntries(
    Object.entries(answers).map(([port, list]) => [port, serveRaw(b, list, Number(port))]),
  );
  const pool = new HttpPool((host, port) => a.connect({ host, port }), clock, {
    ...POOL_LIMITS,
    ...limits,
  });
  /** One GET (or `method`) to `port`: status and body, once the body is read. */
  const get = async (port: number, path = "/", method = "GET") => {
    const answer = await pool.request(`t${port}`, B4, port, { host: B4, port, method, path });
    return `${answer.status} ${await new Response(answer.body).text()}`;
  };
  return { clock, pool, servers, get };
}

/** A held answer and the function that releases it. */
function held(answer: string): { answer: Answer; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  return {
    answer: async () => {
      await released;
      return answer;
    },
    release,
  };
}

describe("Browse's keep-alive pool", () => {
  it("sends a series of requests to one target on one connection", async () => {
    const { clock, pool, servers, get } = setup({ 80: ["a", "b", "c", "d"].map(OK) });
    for (const body of ["a", "b", "c", "d"])
      expect(await settle(clock, get(80))).toBe(`200 ${body}`);
    expect(servers[80]!.connections()).toBe(1);
    expect(pool.stats).toMatchObject({ open: 1, idle: 1, opened: 1, queued: 0 });
  });

  it("opens at most 6 connections to a target however many requests a page makes at once", async () => {
    const holds = Array.from({ length: 100 }, (_, i) => held(OK(String(i))));
    const { clock, pool, servers, get } = setup({ 80: holds.map((h) => h.answer) });
    const all = Promise.all(holds.map(() => get(80)));
    await clock.run(() => pool.stats.queued === 94);
    expect(pool.stats).toMatchObject({ open: 6, queued: 94 });
    for (const h of holds) h.release();
    const answers = await settle(clock, all);
    expect(new Set(answers).size).toBe(100);
    expect(servers[80]!.connections()).toBe(6);
    expect(pool.stats).toMatchObject({ open: 6, idle: 6, opened: 6, queued: 0 });
    expect(pool.stats.perTarget).toEqual({ t80: 6 });
  });

  it("keeps the total across targets: another target's idle connection makes room, or the request waits", async () => {
    const first = held(OK("held"));
    const { clock, pool, get } = setup(
      { 80: [OK("a"), first.answer], 81: [OK("b")], 82: [OK("c")], 83: [OK("d")] },
      { perTarget: 2, total: 2 },
    );
    expect(await settle(clock, get(80))).toBe("200 a");
    expect(await settle(clock, get(81))).toBe("200 b");
    expect(pool.stats).toMatchObject({ open: 2, idle: 2 });
    // Full: port 80's idle connection (unused the longest) is closed for port 82.
    expect(await settle(clock, get(82))).toBe("200 c");
    expect(pool.stats.perTarget).toEqual({ t81: 1, t82: 1 });
    // Both busy (one held): a request to a fourth target waits, then gets a slot.
    const busy = get(80);
    await clock.run(() => pool.stats.perTarget.t80 === 1 && pool.stats.idle === 1);
    const waiting = get(83);
    await clock.run(() => pool.stats.open === 2 && pool.stats.perTarget.t83 === 1);
    expect(await settle(clock, waiting)).toBe("200 d");
    first.release();
    expect(await settle(clock, busy)).toBe("200 held");
    const { open, perTarget } = pool.stats;
    expect(open).toBeLessThanOrEqual(2);
    expect(Object.values(perTarget).reduce((x, y) => x + y, 0)).toBe(open);
  });

  it("refuses requests beyond the queue's bound with a clear error", async () => {
    const first = held(OK("x"));
    const { clock, pool, get } = setup(
      { 80: [first.answer, OK("y"), OK("z")] },
      { perTarget: 1, queued: 2 },
    );
    const running = [get(80), get(80), get(80)];
    await clock.run(() => pool.stats.queued === 2);
    await expect(settle(clock, get(80))).rejects.toThrow(
      "too many requests waiting for a connection (2)",
    );
    first.release();
    expect(await settle(clock, Promise.all(running))).toEqual(["200 x", "200 y", "200 z"]);
    expect(pool.stats).toMatchObject({ refused: 1, open: 1 });
  });

  it("closes an idle connection after the idle timeout", async () => {
    const { clock, pool, get } = setup({ 80: [OK("a"), OK("b")] }, { idleMs: 30_000 });
    expect(await settle(clock, get(80))).toBe("200 a");
    const at = clock.now();
    await clock.run(() => pool.stats.open === 0);
    expect(clock.now() - at).toBeGreaterThanOrEqual(30_000);
    expect(await settle(clock, get(80))).toBe("200 b");
    expect(pool.stats.opened).toBe(2);
  });

  it("does not reuse a connection the server closed while idle, and sends a GET again once when the close crossed it", async () => {
    const { clock, pool, servers, get } = setup({
      80: [`${OK("a")}<close>`, OK("b"), "CLOSE", OK("c"), "CLOSE", "CLOSE"],
    });
    expect(await settle(clock, get(80))).toBe("200 a");
    // The server's FIN arrives while the connection is idle (100 ms of virtual time later).
    await clock.run(() => false, clock.now() + 100);
    // So it is not used: a new connection, nothing retried.
    expect(await settle(clock, get(80))).toBe("200 b");
    expect(pool.stats).toMatchObject({ opened: 2, retried: 0 });
    // The server closes the connection at the next request: sent again on a new one.
    expect(await settle(clock, get(80))).toBe("200 c");
    expect(pool.stats).toMatchObject({ opened: 3, retried: 1 });
    // A POST is not: its error says so.
    await expect(settle(clock, get(80, "/", "POST"))).rejects.toThrow("no answer");
    expect(servers[80]!.connections()).toBe(3);
  });
});
