/**
 * A raw HTTP/1.1 server for client tests, on a netstack in virtual time: it answers each request
 * with the next scripted answer, byte for byte, whatever the answer says.
 */
import type { Netstack } from "../src/netstack.js";
import type { VirtualClock } from "./virtual-clock.js";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** An answer as sent, or one made (or held back) until its promise resolves. */
export type Answer = string | (() => Promise<string>);

/**
 * A server on `b`:80 that answers each request head it reads with the next of `answers` (a
 * request body is read as far as its Content-Length); "CLOSE" closes the connection instead, and
 * an answer ending in "<close>" closes it after the answer.
 */
export function serveRaw(b: Netstack, answers: Answer[], port = 80) {
  const seen: { connection: number; request: string }[] = [];
  const server = b.listen(port);
  let connections = 0;
  void (async () => {
    const accepted = server.connections.getReader();
    for (;;) {
      const { value: conn } = await accepted.read();
      if (!conn) return;
      const id = ++connections;
      void (async () => {
        const reader = conn.readable.getReader();
        const writer = conn.writable.getWriter();
        let buffered = "";
        for (;;) {
          const end = buffered.indexOf("\r\n\r\n");
          if (end < 0) {
            const { value } = await reader.read().catch(() => ({ value: undefined }));
            if (!value) return;
            buffered += text(value);
            continue;
          }
          const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
          if (buffered.length < end + 4 + length) {
            const { value } = await reader.read();
            if (!value) return;
            buffered += text(value);
            continue;
          }
          seen.push({ connection: id, request: buffered.slice(0, end + 4 + length) });
          buffered = buffered.slice(end + 4 + length);
          const next = answers.shift() ?? "CLOSE";
          const answer = typeof next === "string" ? next : await next();
          if (answer === "CLOSE") {
            await writer.close();
            return;
          }
          await writer.write(new TextEncoder().encode(answer.replace(/<close>$/, "")));
          if (answer.endsWith("<close>")) {
            await writer.close();
            return;
          }
        }
      })();
    }
  })();
  return { seen, connections: () => connections };
}

/** Runs the virtual clock until `promise` settles; its value (or its error, thrown). */
export async function settle<T>(clock: VirtualClock, promise: Promise<T>): Promise<T> {
  let result: { ok: T } | { error: unknown } | undefined;
  promise.then(
    (ok) => (result = { ok }),
    (error: unknown) => (result = { error }),
  );
  await clock.run(() => result !== undefined);
  if (!result) throw new Error("never settled");
  if ("error" in result) throw result.error;
  return result.ok;
}
