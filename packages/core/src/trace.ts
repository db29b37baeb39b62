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
