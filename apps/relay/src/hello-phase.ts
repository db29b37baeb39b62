/**
 * A session's hello phase: the transport ready, the control stream, the hello and its admission,
 * all within one deadline. Separate from session.ts because it holds nothing yet (no socket, no
 * queues) and ends either admitted or refused; the open session's lifecycle lives there.
 */

import {
  type CarriageChoice,
  type ControlFrame,
  type Deadline,
  deadline,
  type HelloFrame,
  LATE_HELLO,
} from "@wiregate/relay-protocol";
import { ControlReader } from "./control-reader.js";
import type { Admitted, HelloRefusal, ServerSessionLike } from "./session-types.js";

/** What the hello phase may do to its session. */
export interface HelloHost {
  wt: ServerSessionLike;
  timeoutMs: number;
  admit(hello: HelloFrame): Promise<HelloRefusal | Admitted>;
  /** A method, not a field read, so checks after an await are not narrowed away. */
  isClosed(): boolean;
  close(reason: string): void;
  /** Tells the client why (on the control stream, once it is open), then closes. */
  refuse(refusal: HelloRefusal): void;
  /** The control stream came: its writer carries the welcome, refusals and stats. */
  controlOpened(writer: WritableStreamDefaultWriter<Uint8Array>): void;
}

/**
 * An admitted hello: its upstream, the carriage it asked for, and the reader of the control frames
 * that follow it.
 */
export type HelloAdmitted = Admitted & {
  carriage: CarriageChoice | undefined;
  next: () => Promise<ControlFrame | string>;
};

/** Reads and admits the hello within `timeoutMs`; what was admitted, or nothing (refused, closed). */
export async function awaitHello(host: HelloHost): Promise<HelloAdmitted | undefined> {
  const hello = helloDeadline(host.timeoutMs);
  try {
    return await untilHello(host, hello.expired);
  } finally {
    hello.cancel();
  }
}

/**
 * One deadline for everything before the hello: a slow client gets no fresh timer per step. Time
 * the relay itself did not run does not count (deadline.ts): a hello that arrived while the relay
 * was stopped or starved is read before the deadline is judged, not refused as late.
 */
function helloDeadline(ms: number): { expired: Promise<"timeout">; cancel(): void } {
  let timer: Deadline | undefined;
  const expired = new Promise<"timeout">((resolve) => {
    timer = deadline(ms, () => resolve("timeout"));
  });
  return { expired, cancel: () => timer?.cancel() };
}

async function untilHello(
  host: HelloHost,
  expired: Promise<"timeout">,
): Promise<HelloAdmitted | undefined> {
  // A promise the session's end rejects (the client closed during its hello) settles as "closed":
  // that is the client leaving, not a failure of the relay.
  const withTimeout = <T>(promise: Promise<T>) =>
    Promise.race([promise.catch(() => "closed" as const), expired]);
  const ready = await withTimeout(host.wt.ready);
  if (ready === "closed" || host.isClosed()) {
    host.close("client-closed");
    return undefined;
  }
  if (ready === "timeout") {
    host.refuse({ code: "bad-hello", message: LATE_HELLO.notReady });
    return undefined;
  }

  const streams = host.wt.incomingBidirectionalStreams.getReader();
  const first = await withTimeout(streams.read());
  streams.releaseLock();
  if (first === "closed" || host.isClosed() || (first !== "timeout" && first.done)) {
    host.close("client-closed");
    return undefined;
  }
  if (first === "timeout") {
    // Refused and counted like any other: before, such sessions were closed without a word.
    host.refuse({ code: "bad-hello", message: LATE_HELLO.noControlStream });
    return undefined;
  }
  const control = first.value;
  host.controlOpened(control.writable.getWriter());
  const frames = new ControlReader(control.readable.getReader());
  const readFrame = () => frames.next();

  const hello = await withTimeout(readFrame());
  if (hello === "closed" || host.isClosed()) {
    host.close("client-closed");
    return undefined;
  }
  if (hello === "timeout") {
    host.refuse({ code: "bad-hello", message: LATE_HELLO.noHello });
    return undefined;
  }
  if (typeof hello === "string" || hello.type !== "hello") {
    host.refuse({
      code: "bad-hello",
      message: typeof hello === "string" ? hello : `expected hello, got ${hello.type}`,
    });
    return undefined;
  }
  // Within the hello's deadline too: an upstream's address assigner may answer late.
  const admitted = await Promise.race([host.admit(hello), expired]);
  if (admitted === "timeout") {
    // The hello came; the upstream's address assigner did not answer. A client may retry.
    host.refuse({
      code: "upstream-unreachable",
      message: `upstream ${hello.upstream} did not answer in time`,
    });
    return undefined;
  }
  if (host.isClosed()) return undefined;
  if ("code" in admitted) {
    host.refuse(admitted);
    return undefined;
  }
  return { ...admitted, carriage: hello.carriage, next: readFrame };
}
