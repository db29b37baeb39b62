/**
 * One side's handshake story from its log: its initiations and what became of each (answered,
 * response rejected, retried), the peer's initiations it answered, and the moments its own pending
 * initiation was crossed by the peer's. Clock-free: everything here is read in the order of one log.
 */
import type { LogEvent } from "./log-event.js";

/** wireguard-go and the kernel retransmit after REKEY_TIMEOUT (5 s) plus up to 333 ms of jitter. */
export const REKEY_TIMEOUT_S = 5;
export const RETRANSMIT_WINDOW_S = 5.334;

export interface SideInitiation {
  event: LogEvent;
  /** "try N" of the retry line just before it. */
  retryTry?: number;
  /** This side's previous initiation never completed: a retry, whether a timer line says so or not
   * (wireguard-go also re-initiates for queued data once REKEY_TIMEOUT has passed). */
  retry: boolean;
  /** The peer's initiation arrived while this one was pending: they crossed. */
  crossedBy?: LogEvent;
  /** The response to it was rejected by this side ("invalid response"). */
  rejected?: LogEvent;
  /** This side received the response and derived the session. */
  completed?: LogEvent;
  /** The session derivation failed after the response (the seed's keypair-derivation race). */
  deriveFailed?: LogEvent;
}

export interface SideTimeline {
  log: string;
  peer?: string;
  events: LogEvent[];
  initiations: SideInitiation[];
  /** The peer's initiations this side received. */
  received: LogEvent[];
  /** Error lines, and lines naming a dropped message. */
  problems: LogEvent[];
}

export function sideTimeline(
  log: string,
  peer: string | undefined,
  events: LogEvent[],
): SideTimeline {
  const side: SideTimeline = { log, events, initiations: [], received: [], problems: [] };
  if (peer !== undefined) side.peer = peer;
  let pending: SideInitiation | undefined;
  let retryTry: number | undefined;
  for (const e of events) {
    switch (e.kind) {
      case "retry":
        retryTry = e.number;
        break;
      case "initiation-sent": {
        const init: SideInitiation = { event: e, retry: !!pending && !completedAt(pending) };
        if (retryTry !== undefined) init.retryTry = retryTry;
        retryTry = undefined;
        side.initiations.push(init);
        pending = init;
        break;
      }
      case "initiation-received":
        side.received.push(e);
        if (
          pending &&
          !pending.completed &&
          !pending.crossedBy &&
          e.time - pending.event.time <= RETRANSMIT_WINDOW_S + e.precision
        )
          pending.crossedBy = e;
        break;
      case "response-received":
        if (pending && !pending.completed) pending.completed = e;
        break;
      case "response-invalid":
        side.problems.push(e);
        if (pending && !pending.completed && !pending.rejected) pending.rejected = e;
        break;
      case "keypair-derive-failed":
        side.problems.push(e);
        if (pending?.completed && !pending.deriveFailed) pending.deriveFailed = e;
        break;
      case "response-create-failed":
      case "initiation-create-failed":
      case "initiation-invalid":
      case "gave-up":
      case "handshake-replay":
      case "handshake-flood":
      case "invalid-mac":
        side.problems.push(e);
        break;
      default:
        if (e.level === "error") side.problems.push(e);
    }
  }
  return side;
}

/** A handshake that gave this side a session: answered and derived without error. */
export function completedAt(init: SideInitiation): LogEvent | undefined {
  return init.completed && !init.deriveFailed ? init.completed : undefined;
}

/** What an error or drop line means, in plain words (the seed's two messages by name). */
export function explainProblem(e: LogEvent): string {
  const where = `${e.log} line ${e.line}`;
  switch (e.kind) {
    case "response-create-failed":
      if (e.detail?.includes("must be consumed first"))
        return `${where}: "Failed to create response message: handshake initiation must be consumed first" — wireguard-go's handshake-slot race (two handshake workers on one peer's single state slot: another worker changed it between consuming the initiation and creating the response); the initiation is dropped and its sender retries after 5 s`;
      return `${where}: could not create a response (${e.detail ?? e.text}); the initiation is dropped`;
    case "keypair-derive-failed":
      if (e.detail?.includes("invalid state for keypair derivation"))
        return `${where}: "Failed to derive keypair: invalid state for keypair derivation" — wireguard-go's handshake-slot race (the slot changed between consuming the response and deriving the session); the handshake is lost until a retry`;
      return `${where}: could not derive the session (${e.detail ?? e.text})`;
    case "response-invalid":
      return `${where}: a response was rejected ("${e.text}"): it matched no pending initiation of this side (answered, replaced — e.g. by answering a crossing initiation — or expired); logged at debug level only`;
    case "initiation-invalid":
      return `${where}: an initiation was rejected (${e.text})`;
    case "gave-up":
      return `${where}: gave up on the handshake (${e.text})`;
    case "handshake-replay":
      return `${where}: an initiation with an old timestamp was ignored (replay)`;
    case "handshake-flood":
      return `${where}: an initiation came too soon after the last one (flood protection)`;
    case "invalid-mac":
      return `${where}: a handshake message with a bad mac1 was dropped (wrong public key configured?)`;
    default:
      return `${where}: ${e.level}: ${e.text}`;
  }
}
