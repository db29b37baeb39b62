/** What the stack reports to its caller after a poll. */
import type { TcpErrorKind, TcpSocket } from "./tcp/socket.js";

export type { TcpErrorKind };

export type StackEvent =
  /** An active open completed (SYN-SENT → ESTABLISHED). */
  | { type: "tcp-connected"; socket: TcpSocket }
  /** A passive open completed on a listening port; the socket is the application's now. */
  | { type: "tcp-accepted"; socket: TcpSocket; port: number }
  /** In-order data is waiting to be read. */
  | { type: "tcp-readable"; socket: TcpSocket }
  /** The peer sent FIN: after the buffered data, the stream ends. */
  | { type: "tcp-end"; socket: TcpSocket }
  /** Send buffer space was freed. */
  | { type: "tcp-writable"; socket: TcpSocket }
  /** The connection is gone: orderly (no error) or with one of the typed errors. */
  | { type: "tcp-closed"; socket: TcpSocket; error?: TcpErrorKind }
  | { type: "udp"; port: number; from: string; fromPort: number; to: string; data: Uint8Array }
  | { type: "echo-reply"; from: string; id: number; sequence: number; data: Uint8Array }
  | { type: "unreachable"; from: string; to: string; protocol: number };

/** Counted drops and defenses: every packet the stack refuses is counted under a reason. */
export interface StackStats {
  received: number;
  sent: number;
  malformed: number;
  badChecksum: number;
  notForUs: number;
  unsupportedProtocol: number;
  noSocket: number;
  resetsSent: number;
  outOfWindow: number;
  challengeAcks: number;
  challengeAcksSuppressed: number;
  outOfOrderDropped: number;
  backlogFull: number;
  tableFull: number;
  pawsRejected: number;
  retransmissions: number;
  /** Retransmission timer expirations (RFC 6298 §5.4): losses not repaired by fast recovery. */
  timeouts: number;
  /** ACKs sent because the delayed-ACK timer ran out (RFC 9293 §3.8.6.3). */
  delayedAcks: number;
  /** Tail loss probes sent (RFC 8985 §7): a tail's loss found without waiting for a timeout. */
  lossProbes: number;
  udpQueueFull: number;
}

export function emptyStats(): StackStats {
  return {
    received: 0,
    sent: 0,
    malformed: 0,
    badChecksum: 0,
    notForUs: 0,
    unsupportedProtocol: 0,
    noSocket: 0,
    resetsSent: 0,
    outOfWindow: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    outOfOrderDropped: 0,
    backlogFull: 0,
    tableFull: 0,
    pawsRejected: 0,
    retransmissions: 0,
    timeouts: 0,
    delayedAcks: 0,
    lossProbes: 0,
    udpQueueFull: 0,
  };
}

/** Where connections put what they produce during one call into the stack. */
export interface Sink {
  packets: Uint8Array[];
  events: StackEvent[];
  stats: StackStats;
}
