/** Tunables of TCP, with the defaults we ship (Linux's where the RFCs leave a choice). */
export interface TcpConfig {
  /** Bytes the application may queue for sending per connection. */
  sendBuffer: number;
  /** Receive buffer per connection: the largest window we advertise. */
  receiveBuffer: number;
  /** Out-of-order segments kept per connection (RFC 9293 §3.10.7.4 allows dropping them). */
  maxOutOfOrder: number;
  /** How long a connection stays in TIME-WAIT (2 × MSL; Linux: 60 s). */
  timeWait: number;
  /** Longest an ACK is delayed (RFC 9293 §3.8.6.3: < 0.5 s; Linux: 40 ms). */
  delayedAck: number;
  /** SYN retransmissions before a connect fails with "timed-out" (Linux: 6). */
  synRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped (Linux: 5). */
  synAckRetries: number;
  /** Data retransmissions before the connection fails with "timed-out" (Linux: 15). */
  maxRetransmissions: number;
  /** Challenge ACKs sent per connection per second at most (RFC 5961 §7). */
  challengeAckLimit: number;
  /**
   * When the peer permits SACK: loss detection by RACK-TLP (RFC 8985) and recovery by RFC 6675;
   * else (or when false) NewReno.
   */
  sackRecovery: boolean;
  /** CUBIC's window growth and reduction (RFC 9438) instead of Reno's (RFC 5681). */
  cubic: boolean;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  sendBuffer: 256 * 1024,
  receiveBuffer: 1024 * 1024,
  maxOutOfOrder: 256,
  timeWait: 60_000,
  delayedAck: 40,
  synRetries: 6,
  synAckRetries: 5,
  maxRetransmissions: 15,
  challengeAckLimit: 10,
  sackRecovery: true,
  cubic: true,
};

/** Keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): off unless asked for. */
export interface KeepAlive {
  /** Idle time before the first probe. */
  idle: number;
  /** Time between unanswered probes. */
  interval: number;
  /** Unanswered probes before the connection fails with "timed-out". */
  count: number;
}

/** MSS for an MTU (RFC 6691 §2: MTU − 40 for IPv4, − 60 for IPv6). */
export function mssForMtu(mtu: number, family: 4 | 6): number {
  return mtu - (family === 4 ? 40 : 60);
}

/** The MSS a peer is assumed to accept when it sends none (RFC 9293 §3.7.1; RFC 8200 for IPv6). */
export function defaultPeerMss(family: 4 | 6): number {
  return family === 4 ? 536 : 1220;
}
