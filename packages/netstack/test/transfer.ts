/** A bulk transfer between the two stacks of a Pair, recording what each side received. */
import type { StackEvent } from "../src/events.js";
import type { TcpSocket } from "../src/tcp/socket.js";
import { B4, type Pair, type Side } from "./pair.js";

export interface Transfer {
  client: TcpSocket;
  received: Uint8Array[];
  /** What the client received back from the server. */
  answer: Uint8Array[];
  server?: TcpSocket;
  closed: Partial<Record<Side, { error?: string }>>;
  ended: Partial<Record<Side, boolean>>;
  bytes(): Uint8Array;
}

export function pattern(n: number, salt = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + salt + (i >> 8)) & 0xff;
  return out;
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Client on `a` sends `data` to a server on `b` port 80, then closes. The server sends `response`
 * at the same time and closes once it has sent it all and seen the client's end.
 */
export function startTransfer(
  pair: Pair,
  data: Uint8Array,
  host = B4,
  response: Uint8Array = new Uint8Array(0),
): Transfer {
  pair.b.listen(80);
  const client = pair.a.connect(pair.now, { host, port: 80 });
  const t: Transfer = {
    client,
    received: [],
    answer: [],
    closed: {},
    ended: {},
    bytes: () => concat(t.received),
  };
  let offset = 0;
  const pump = () => {
    while (offset < data.length) {
      const n = client.write(data.subarray(offset, offset + 65536));
      if (n === 0) return;
      offset += n;
    }
    client.close();
  };
  pump();
  let served = 0;
  const serve = () => {
    const s = t.server;
    if (!s) return;
    while (served < response.length) {
      const n = s.write(response.subarray(served, served + 65536));
      if (n === 0) return;
      served += n;
    }
    if (t.ended.b) s.close();
  };
  pair.onEvent = (side: Side, e: StackEvent) => {
    if (e.type === "tcp-writable") side === "a" ? pump() : serve();
    if (e.type === "tcp-accepted") {
      t.server = e.socket;
      serve();
    }
    if (e.type === "tcp-readable") (side === "b" ? t.received : t.answer).push(e.socket.read());
    if (e.type === "tcp-end") {
      t.ended[side] = true;
      (side === "b" ? t.received : t.answer).push(e.socket.read());
      if (side === "b") serve();
    }
    if (e.type === "tcp-closed") t.closed[side] = e.error ? { error: e.error } : {};
  };
  return t;
}

/** Index of the first differing byte, or -1 when equal (vitest's deep equality is slow on MBs). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
