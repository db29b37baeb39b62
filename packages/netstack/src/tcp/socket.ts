/** The application's view of one TCP connection (the stack's Connection implements it). */
import type { KeepAlive } from "./config.js";
import type { SendLimit, SendLimitTimes } from "./send-limits.js";

/** Why a TCP connection ended abnormally. */
export type TcpErrorKind = "refused" | "reset" | "timed-out" | "unreachable" | "aborted";

export type TcpState =
  | "syn-sent"
  | "syn-received"
  | "established"
  | "fin-wait-1"
  | "fin-wait-2"
  | "close-wait"
  | "closing"
  | "last-ack"
  | "time-wait"
  | "closed";

/** The sender's state, for users and benches (as Linux's TCP_INFO). Byte counts and ms. */
export interface TcpInfo {
  /** Our send MSS. */
  mss: number;
  cwnd: number;
  ssthresh: number;
  /** Sent and not acknowledged. */
  flight: number;
  /** The peer's receive window. */
  sendWindow: number;
  /** Free room in our receive buffer. */
  receiveWindow: number;
  /** Smoothed round trip (undefined before the first sample) and the retransmission timeout. */
  srtt: number | undefined;
  rto: number;
  /** Segments this connection sent again. */
  retransmissions: number;
  /** What holds the sender back now, and for how long each limit held it (up to the last poll). */
  limit: SendLimit;
  limitedMs: SendLimitTimes;
}

export interface TcpSocket {
  readonly id: number;
  readonly state: TcpState;
  readonly local: string;
  readonly localPort: number;
  readonly remote: string;
  readonly remotePort: number;
  /** Set once the connection failed. */
  readonly error: TcpErrorKind | undefined;
  /** In-order bytes waiting to be read. */
  readonly readableLength: number;
  /** True once the peer's FIN has been received and every byte before it read. */
  readonly ended: boolean;
  /** Bytes that `write` would take now. */
  readonly writableSpace: number;
  /** Bytes written but not yet acknowledged by the peer. */
  readonly unacknowledged: number;
  /** The sender's window, round trip and what limited it. */
  readonly info: TcpInfo;
  /** Takes up to `max` bytes of in-order data. */
  read(max?: number): Uint8Array;
  /** Queues as much of `data` as the send buffer takes; returns the number of bytes taken. */
  write(data: Uint8Array): number;
  /** No more writes: a FIN follows the queued data (RFC 9293 §3.10.4). */
  close(): void;
  /** Drops everything and sends a RST (RFC 9293 §3.10.5). */
  abort(): void;
  /** Nagle's algorithm (RFC 9293 §3.7.4) is on unless this is set. */
  setNoDelay(noDelay: boolean): void;
  setKeepAlive(keepAlive: KeepAlive | undefined): void;
}
