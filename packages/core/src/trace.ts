/**
 * Structured trace events: every state transition of the engine is one of these. The relay's logs,
 * the browser's timeline and the replay tool's output are all rendered from this one stream.
 */
export type TraceLevel = "debug" | "info" | "warn" | "error";

export type TraceKind =
  | "peer-added"
  | "peer-removed"
  | "handshake-state"
  | "initiation-sent"
  | "initiation-suppressed"
  | "initiation-consumed"
  | "response-sent"
  | "response-consumed"
  | "collision"
  | "keypair-created"
  | "keypair-confirmed"
  | "keypair-retired"
  | "keys-zeroed"
  | "handshake-gave-up"
  | "cookie-sent"
  | "cookie-received"
  | "endpoint-changed"
  | "keepalive-sent"
  | "packet-dropped"
  | "rejected";

export interface TraceEvent {
  /** The caller's `now` when the event happened (monotonic ms). */
  time: number;
  kind: TraceKind;
  level: TraceLevel;
  /** Base64 static public key of the peer, when the event concerns one. */
  peer?: string;
  role?: "initiator" | "responder";
  localIndex?: number;
  remoteIndex?: number;
  /**
   * State before and after the transition: the handshake state (handshake-state.ts) for
   * `handshake-state`, the keypair slot for keypair events, the endpoint for `endpoint-changed`.
   */
  from?: string;
  to?: string;
  /** Why it happened, in a few words ("retransmit", "replayed timestamp", …). */
  reason?: string;
}

const hex32 = (value: number) => `0x${(value >>> 0).toString(16).padStart(8, "0")}`;

/**
 * One line for an event, the one text form every log, test message and replay timeline uses:
 * `initiation-sent local 0x1a2b3c4d (retransmit)`, `handshake-state idle→initiation-sent (…)`,
 * with `[warn]` or `[error]` at the end at those levels.
 */
export function formatTraceEvent(e: TraceEvent): string {
  const local = e.localIndex !== undefined ? ` local ${hex32(e.localIndex)}` : "";
  const remote = e.remoteIndex !== undefined ? ` remote ${hex32(e.remoteIndex)}` : "";
  const states = e.from ? ` ${e.from}→${e.to ?? ""}` : e.to ? ` →${e.to}` : "";
  const reason = e.reason ? ` (${e.reason})` : "";
  const level = e.level === "error" || e.level === "warn" ? ` [${e.level}]` : "";
  return `${e.kind}${local}${remote}${states}${reason}${level}`;
}
