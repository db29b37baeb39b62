/**
 * One peer's handshake as a type. Our initiations in flight and the responder keypair waiting for
 * confirmation are the only handshake state there is; each variant holds exactly what is valid in
 * it, and every change goes through `HANDSHAKE_TRANSITIONS` (docs/architecture.md draws it).
 */
import type { Keypair } from "./keypair.js";
import type { SymmetricState } from "./noise.js";

/** An initiation we sent and still accept a response to. */
export interface PendingInitiation {
  readonly localIndex: number;
  readonly ephemeralPrivate: Uint8Array;
  readonly state: SymmetricState;
  /** Handshake round it belongs to; a retransmission keeps its predecessor's (see keypair.ts). */
  readonly round: number;
}

/**
 * Newest first. The initiation a retransmission replaced is kept too, so that a response to it
 * that was merely late still completes the handshake.
 */
export type Pendings =
  | readonly [PendingInitiation]
  | readonly [PendingInitiation, PendingInitiation];

export type Handshake =
  /** Nothing in flight. */
  | { readonly kind: "idle" }
  /** We initiated and wait for the response. */
  | { readonly kind: "initiation-sent"; readonly pending: Pendings }
  /** We answered an initiation; `next` may not send until the initiator's first data confirms it. */
  | { readonly kind: "response-sent"; readonly next: Keypair }
  /** Initiations crossed: ours waits for its response while we wait for confirmation of theirs. */
  | { readonly kind: "crossed"; readonly pending: Pendings; readonly next: Keypair };

export type HandshakeKind = Handshake["kind"];

export const IDLE: Handshake = { kind: "idle" };

/**
 * Every change of kind the engine makes. Each step adds or removes one thing (an initiation in
 * flight, or the keypair awaiting confirmation), so idle ↔ crossed and initiation-sent ↔
 * response-sent never happen in one step.
 */
export const HANDSHAKE_TRANSITIONS: Readonly<Record<HandshakeKind, readonly HandshakeKind[]>> = {
  idle: ["initiation-sent", "response-sent"],
  "initiation-sent": ["idle", "crossed"],
  "response-sent": ["idle", "crossed"],
  crossed: ["initiation-sent", "response-sent", "idle"],
};

export function pendingsOf(h: Handshake): readonly PendingInitiation[] {
  return h.kind === "initiation-sent" || h.kind === "crossed" ? h.pending : [];
}

export function nextOf(h: Handshake): Keypair | null {
  return h.kind === "response-sent" || h.kind === "crossed" ? h.next : null;
}

/** The state with these initiations in flight (newest first, at most two) and this `next`. */
export function handshakeOf(
  pendings: readonly PendingInitiation[],
  next: Keypair | null,
): Handshake {
  const [newest, older] = pendings;
  const pending: Pendings | null = newest ? (older ? [newest, older] : [newest]) : null;
  if (pending && next) return { kind: "crossed", pending, next };
  if (pending) return { kind: "initiation-sent", pending };
  if (next) return { kind: "response-sent", next };
  return IDLE;
}

/** Throws on a transition the table does not allow: that is a bug in the engine, not input. */
export function checkTransition(from: HandshakeKind, to: HandshakeKind): void {
  if (from !== to && !HANDSHAKE_TRANSITIONS[from].includes(to)) {
    throw new Error(`handshake: no transition from ${from} to ${to}`);
  }
}
