/**
 * What a connection sends: data within the windows (RFC 9293 §3.8.6.2.1 sender SWS avoidance,
 * Nagle §3.7.4), SYNs, ACKs with SACK blocks, RSTs, probes; and the window it advertises.
 */
import { type Seq, seqAdd, seqDiff, seqGt, seqLt, seqMax } from "../seq.js";
import type { Connection } from "./connection.js";
import { armProbe } from "./recovery.js";
import {
  ACK,
  buildSegment,
  FIN,
  PSH,
  RST,
  type SegmentData,
  SYN,
  type TcpOptions,
} from "./segment.js";
import type { SendLimit } from "./send-limits.js";

/** Advertised window: never shrinks the right edge; silly-window avoidance (RFC 9293 §3.8.6.2.2). */
export function advertise(c: Connection): number {
  const free = Math.max(0, c.receiveWindow());
  const edge = seqAdd(c.rcvNxt, free);
  if (seqGt(edge, c.rcvAdv) && seqDiff(edge, c.rcvAdv) >= c.swsThreshold()) {
    c.rcvAdv = edge;
  } else if (seqLt(c.rcvAdv, c.rcvNxt)) {
    c.rcvAdv = c.rcvNxt;
  }
  const window = seqDiff(c.rcvAdv, c.rcvNxt);
  return Math.min(0xffff, window >>> (c.useScale ? c.rcvScale : 0));
}

export function emit(
  c: Connection,
  now: number,
  seq: Seq,
  flags: number,
  data?: Uint8Array | SegmentData,
  extra?: TcpOptions,
): void {
  const options: TcpOptions = { ...extra };
  // Timestamps on every segment once negotiated; offered on our SYN (RFC 7323 §3.2).
  if (c.useTimestamps || (flags & SYN && c.state === "syn-sent")) {
    options.timestamp = { value: c.tsValue(now), echo: flags & ACK ? c.tsRecent : 0 };
  }
  let window: number;
  if (flags & SYN) {
    window = Math.min(0xffff, Math.max(0, c.receiveWindow()));
    c.rcvAdv = seqAdd(c.rcvNxt, window);
  } else {
    window = advertise(c);
  }
  if (flags & ACK) {
    c.lastAckSent = c.rcvNxt;
    c.ackNow = false;
    c.unacked = 0;
    c.timers.delayedAck = undefined;
    if (c.sackPermitted && !c.outOfOrder.empty && !(flags & SYN)) {
      options.sack = c.outOfOrder.sackBlocks(c.useTimestamps ? 3 : 4);
    }
  }
  c.sink.packets.push(
    buildSegment({
      family: c.family,
      source: c.local,
      destination: c.remote,
      sourcePort: c.localPort,
      destinationPort: c.remotePort,
      seq,
      ack: flags & ACK ? c.rcvNxt : 0,
      flags,
      window,
      options,
      ...(data ? { data } : {}),
    }),
  );
}

export function synOptions(c: Connection): TcpOptions {
  const o: TcpOptions = { mss: c.ourMss, windowScale: c.rcvScale, sackPermitted: true };
  if (c.state === "syn-received") {
    // Answer only what the peer offered (RFC 7323 §2.2; RFC 2018 §2).
    if (!c.useScale) delete o.windowScale;
    if (!c.sackPermitted) delete o.sackPermitted;
  }
  return o;
}

/** `length` bytes of the send queue from `offset`, copied straight into the segment being built. */
function fromSendQueue(c: Connection, offset: number, length: number): SegmentData {
  return { length, copyTo: (target, at) => c.sendQueue.copyTo(offset, length, target, at) };
}

/** Sends one segment of queued data starting at `seq` (a retransmission when below SND.MAX). */
export function sendData(c: Connection, now: number, seq: Seq, max: number): number {
  const offset = seqDiff(seq, c.sndUna);
  const len = Math.max(0, Math.min(max, c.mss, c.sendQueue.length - offset));
  const end = seqAdd(seq, len);
  const fin = c.finQueued && offset + len === c.sendQueue.length;
  if (fin && c.ourFinSeq === undefined) c.ourFinSeq = end;
  let flags = ACK;
  if (len > 0 && offset + len === c.sendQueue.length) flags |= PSH;
  if (fin) flags |= FIN;
  if (len === 0 && !fin) return 0;
  if (seqLt(seq, c.sndMax)) {
    c.sink.stats.retransmissions++;
    c.retransmitted++;
  } else if (c.rttSeq === undefined && !c.useTimestamps && len > 0) {
    c.rttSeq = end;
    c.rttStart = now;
  }
  const data = len > 0 ? fromSendQueue(c, offset, len) : undefined;
  emit(c, now, seq, flags, data);
  const after = seqAdd(end, fin ? 1 : 0);
  if (c.cc.sack) {
    // The FIN is an entry of its own: SACK blocks cover data only.
    c.sent.sent(seq, end, now, c.sndMax);
    if (fin) c.sent.sent(end, after, now, c.sndMax);
  }
  if (c.timers.retransmit === undefined) c.timers.retransmit = now + c.rtt.current;
  c.timers.persist = undefined;
  c.sndMax = seqMax(c.sndMax, after);
  return seqDiff(after, seq);
}

/** What to send now (RFC 9293 §3.8.6.2.1 sender SWS avoidance; Nagle, §3.7.4). */
export function dispatch(c: Connection, now: number): void {
  if (c.sendRst) {
    c.sendRst = false;
    emit(c, now, c.sndMax, RST | ACK);
    c.sink.stats.resetsSent++;
    return;
  }
  if (c.state === "closed" || c.state === "time-wait") {
    if (c.ackNow && c.state === "time-wait") emit(c, now, c.sndMax, ACK);
    return;
  }
  if (c.state === "syn-sent" || c.state === "syn-received") {
    if (c.sndNxt === c.iss) {
      const flags = c.state === "syn-sent" ? SYN : SYN | ACK;
      emit(c, now, c.iss, flags, undefined, synOptions(c));
      c.sndNxt = seqAdd(c.iss, 1);
      c.sndMax = seqMax(c.sndMax, c.sndNxt);
      if (c.retries === 0 && c.state === "syn-sent") c.rttStart = now;
      c.timers.retransmit ??= now + c.rtt.current;
    } else if (c.ackNow && c.state === "syn-received") {
      emit(c, now, c.sndMax, ACK);
    }
    return;
  }
  const canSend =
    c.state === "established" ||
    c.state === "close-wait" ||
    c.state === "fin-wait-1" ||
    c.state === "closing" ||
    c.state === "last-ack";
  if (canSend && c.cc.sack && (c.cc.inRecovery || c.sent.lostBytes > 0)) sendInRecovery(c, now);
  else
    while (canSend) {
      const offset = seqDiff(c.sndNxt, c.sndUna);
      const unsent = c.sendQueue.length - offset;
      const finPending =
        c.finQueued && (c.ourFinSeq === undefined || !seqGt(c.sndNxt, c.ourFinSeq));
      if (unsent <= 0 && !finPending) break;
      const window = Math.min(c.sndWnd, c.cc.cwnd);
      const room = window - offset;
      if (unsent > 0) {
        const len = Math.min(c.mss, unsent, Math.max(0, room));
        if (len <= 0) break;
        if (len < c.mss && len < unsent) {
          // Window-limited small segment: wait unless it is half the peer's largest window.
          if (len < c.maxSndWnd / 2 || offset > 0) break;
        }
        const last = len === unsent;
        if (len < c.mss && last && !c.noDelay && offset > 0 && !c.finQueued) break;
      }
      const sent = sendData(c, now, c.sndNxt, Math.max(0, room));
      if (sent === 0) break;
      c.sndNxt = seqAdd(c.sndNxt, sent);
    }
  // A pure ACK carries SND.MAX, not a rewound SND.NXT, so the peer finds it in its window
  // even while we go back to retransmit (BSD does the same).
  if (c.ackNow) emit(c, now, c.sndMax, ACK);
  // Data waits for the window and nothing is in flight to bring an ACK: the persist timer
  // probes a zero window (RFC 9293 §3.8.6.1) or overrides sender SWS avoidance (§3.8.6.2.1).
  const waiting = c.sendQueue.length - seqDiff(c.sndNxt, c.sndUna) > 0;
  if (canSend && waiting && c.sndMax === c.sndUna) {
    c.timers.persist ??= now + Math.min(60_000, c.rtt.current * 2 ** c.persistBackoff);
  }
  if (canSend && c.cc.sack) armProbe(c, now);
  c.limits.set(canSend ? sendLimit(c) : "idle", now);
  armKeepAlive(c, now);
  if (c.wantWritable && c.sendQueue.free > 0) {
    c.wantWritable = false;
    c.sink.events.push({ type: "tcp-writable", socket: c });
  }
}

/** What holds the sender back now (send-limits.ts), after it sent what it could. */
function sendLimit(c: Connection): SendLimit {
  const offset = seqDiff(c.sndNxt, c.sndUna);
  const unsent = c.sendQueue.length - offset;
  if (unsent > 0) {
    const next = Math.min(c.mss, unsent);
    if (c.sndWnd - offset < next) return "rwnd";
    const recovering = c.cc.sack && (c.cc.inRecovery || c.sent.lostBytes > 0);
    if (c.cc.cwnd - (recovering ? c.sent.pipe : offset) < next) return "cwnd";
  } else if (offset === 0) return "idle";
  // A full buffer (its tail may wait for Nagle: the application cannot complete that segment).
  return c.sendQueue.free < c.mss ? "sndbuf" : "app";
}

/**
 * SACK loss recovery (RFC 6675 §5 step (C)), after a timeout too: while the pipe leaves room for a
 * segment, resend the first segment deemed lost (NextSeg rule 1), else send new data within the
 * peer's window (rule 2).
 */
function sendInRecovery(c: Connection, now: number): void {
  for (;;) {
    if (c.cc.cwnd - c.sent.pipe < c.mss) return;
    const lost = c.sent.firstLost();
    if (lost) {
      if (sendData(c, now, lost.start, seqDiff(lost.end, lost.start)) === 0) return;
      continue;
    }
    const offset = seqDiff(c.sndNxt, c.sndUna);
    const unsent = c.sendQueue.length - offset;
    const room = c.sndWnd - offset;
    if (unsent <= 0 || room < Math.min(c.mss, unsent)) return;
    const sent = sendData(c, now, c.sndNxt, room);
    if (sent === 0) return;
    c.sndNxt = seqAdd(c.sndNxt, sent);
  }
}

export function armKeepAlive(c: Connection, now: number): void {
  if (!c.keepAlive || c.state !== "established") return;
  c.timers.keepalive ??= now + c.keepAlive.idle;
}

export function challengeAck(c: Connection, now: number): void {
  // RFC 5961 §7: rate-limit challenge ACKs so they cannot be used as an amplifier.
  if (now - c.challengeWindowStart >= 1000) {
    c.challengeWindowStart = now;
    c.challengeCount = 0;
  }
  if (c.challengeCount >= c.config.challengeAckLimit) {
    c.sink.stats.challengeAcksSuppressed++;
    return;
  }
  c.challengeCount++;
  c.sink.stats.challengeAcks++;
  emit(c, now, c.sndMax, ACK);
}
