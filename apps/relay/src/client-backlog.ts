/**
 * Bytes the library holds toward one client and has not handed to the kernel yet. The library's
 * queues are unbounded (HTTP/2: the capsule stream's write buffer, plus a list of datagrams waiting
 * while that stream is blocked), so a client that stops reading would make them grow without end;
 * the session checks this before each write and drops beyond its budget, like DERP's per-client
 * send queue. HTTP/3 datagrams live in quiche's own bounded queue: nothing to see here, 0.
 */

interface LibrarySessionInternals {
  objint?: {
    stream?: { writableLength?: unknown };
    datagramsWaiting_?: unknown;
  };
}

/** Upper bound: datagrams waiting for a blocked stream count as `datagramSize` bytes each. */
export function bufferedTowardClient(wt: unknown, datagramSize: number): number {
  const inner = (wt as LibrarySessionInternals).objint;
  if (!inner) return 0;
  const streamBytes = inner.stream?.writableLength;
  const waiting = inner.datagramsWaiting_;
  return (
    (typeof streamBytes === "number" ? streamBytes : 0) +
    (Array.isArray(waiting) ? waiting.length * datagramSize : 0)
  );
}
