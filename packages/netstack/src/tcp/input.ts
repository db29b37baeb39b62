/**
 * SEGMENT ARRIVES for a connection in SYN-SENT or a synchronized state (RFC 9293 §3.10.7.3 and
 * §3.10.7.4), hardened against blind attacks (RFC 5961) and old duplicates (PAWS, RFC 7323 §5).
 */
import { type Seq, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "../seq.js";
import { defaultPeerMss } from "./config.js";
import type { Connection } from "./connection.js";
import { challengeAck, emit, sendData } from "./output.js";
import { detectLoss } from "./recovery.js";
import { ACK, FIN, RST, type Segment, SYN, segmentLength } from "./segment.js";

export function segmentArrives(c: Connection, now: number, seg: Segment): void {
  if (c.state === "syn-sent") synSent(c, now, seg);
  else synchronized(c, now, seg);
}

/** Options from the peer's SYN (RFC 7323 §1.3, §3.2; RFC 2018 §2; RFC 9293 §3.7.1). */
function negotiate(c: Connection, now: number, seg: Segment): void {
  const o = seg.options;
  c.useScale = o.windowScale !== undefined;
  c.sndScale = c.useScale ? Math.min(o.windowScale!, 14) : 0;
  c.sackPermitted = o.sackPermitted === true;
  c.cc.sack = c.sackPermitted && c.config.sackRecovery;
  c.useTimestamps = o.timestamp !== undefined; // we offer them on every SYN we send
  if (o.timestamp) c.tsRecent = o.timestamp.value;
  const peerMss = o.mss ?? defaultPeerMss(c.family);
  c.mss = Math.max(64, Math.min(peerMss, c.ourMss) - (c.useTimestamps ? 12 : 0));
  c.cc.setMss(c.mss);
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.rcvAdv = c.rcvNxt;
  c.heardFromPeer(now);
}

/** Opens a passive connection from a SYN on a listening port (RFC 9293 §3.10.7.2). */
export function acceptSyn(c: Connection, now: number, seg: Segment): void {
  negotiate(c, now, seg);
  c.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = seg.seq;
}

function synSent(c: Connection, now: number, seg: Segment): void {
  const hasAck = (seg.flags & ACK) !== 0;
  if (hasAck && (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndNxt))) {
    if (!(seg.flags & RST)) resetFor(c, now, seg);
    return;
  }
  if (seg.flags & RST) {
    if (hasAck) c.finish("refused");
    return;
  }
  if (!(seg.flags & SYN)) return;
  negotiate(c, now, seg);
  if (hasAck) {
    c.sndUna = seg.ack;
    c.sndWnd = seg.window;
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    c.timers.retransmit = undefined;
    if (c.retries === 0) c.rtt.sample(now - c.rttStart); // Karn: only an unrepeated SYN
    c.retries = 0;
    c.state = "established";
    c.ackNow = true;
    c.sink.events.push({ type: "tcp-connected", socket: c });
    if (c.finQueued) c.state = "fin-wait-1";
  } else {
    // Simultaneous open: answer with SYN-ACK from our ISS.
    c.state = "syn-received";
    c.sndNxt = c.iss;
    c.timers.retransmit = undefined;
  }
}

/** A RST for an unacceptable segment: <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.3). */
function resetFor(c: Connection, now: number, seg: Segment): void {
  c.sink.stats.resetsSent++;
  emit(c, now, seg.ack, RST);
}

function acceptable(c: Connection, seg: Segment, length: number): boolean {
  const window = seqDiff(c.rcvAdv, c.rcvNxt);
  const inWindow = (s: Seq) => seqGe(s, c.rcvNxt) && seqLt(s, seqAdd(c.rcvNxt, window));
  if (length === 0) return window === 0 ? seg.seq === c.rcvNxt : inWindow(seg.seq);
  if (window === 0) return false;
  return inWindow(seg.seq) || inWindow(seqAdd(seg.seq, length - 1));
}

function synchronized(c: Connection, now: number, seg: Segment): void {
  const length = segmentLength(seg);
  const ts = seg.options.timestamp;
  // PAWS (RFC 7323 §5.3): a timestamp older than TS.Recent marks an old duplicate.
  if (c.useTimestamps && ts && !(seg.flags & RST) && seqLt(ts.value, c.tsRecent)) {
    c.sink.stats.pawsRejected++;
    c.ackNow = true;
    return;
  }
  // Retransmitted SYN while we wait for the handshake's ACK: answer with the SYN-ACK again.
  if (c.state === "syn-received" && seg.flags & SYN && !(seg.flags & ACK) && seg.seq === c.irs) {
    c.sndNxt = c.iss;
    return;
  }
  if (!acceptable(c, seg, length)) {
    c.sink.stats.outOfWindow++;
    if (!(seg.flags & RST)) c.ackNow = true; // also our answer to a zero-window probe
    if (c.sndWnd === 0) c.retries = 0;
    return;
  }
  // RST (RFC 5961 §3.2): only an exact match resets; anywhere else in the window is challenged.
  if (seg.flags & RST) {
    if (seg.seq !== c.rcvNxt) {
      challengeAck(c, now);
      return;
    }
    if (c.state === "syn-received" && c.backlog) c.finish(undefined);
    else if (c.state === "time-wait" || c.state === "closing" || c.state === "last-ack") {
      c.finish(undefined);
    } else c.finish("reset");
    return;
  }
  // SYN in a synchronized state (RFC 5961 §4.2): always a challenge ACK.
  if (seg.flags & SYN) {
    challengeAck(c, now);
    return;
  }
  if (!(seg.flags & ACK)) return;
  c.heardFromPeer(now);
  if (ts && seqLe(seg.seq, c.lastAckSent)) c.tsRecent = ts.value; // RFC 7323 §4.3
  if (c.state === "syn-received") {
    if (seqLe(seg.ack, c.sndUna) || seqGt(seg.ack, c.sndNxt)) {
      resetFor(c, now, seg);
      return;
    }
    c.state = c.finQueued ? "fin-wait-1" : "established";
    c.sndWnd = seg.window << c.sndScale;
    c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    if (c.retries === 0) c.rtt.sample(now - c.rttStart);
    const backlog = c.backlog;
    if (backlog) {
      backlog.halfOpen--;
      c.backlog = undefined;
      c.sink.events.push({ type: "tcp-accepted", socket: c, port: backlog.port });
    }
  }
  if (!processAck(c, now, seg)) return;
  if (c.state === "closed") return;
  processData(c, now, seg);
}

/** The ACK field (RFC 9293 §3.10.7.4 fifth check; RFC 5961 §5.2). False: drop the segment. */
function processAck(c: Connection, now: number, seg: Segment): boolean {
  if (seqGt(seg.ack, c.sndMax)) {
    c.ackNow = true; // acknowledges something we never sent
    return false;
  }
  if (seqLt(seg.ack, seqAdd(c.sndUna, -Math.max(c.maxSndWnd, 1)))) {
    challengeAck(c, now); // too old to be a late duplicate: a blind injection
    return false;
  }
  const window = seg.window << c.sndScale;
  // An ACK of new data always brings its window (as Linux's tcp_may_update_window): the peer's
  // retransmissions carry lower sequence numbers than its pure ACKs (those carry SND.MAX), so
  // by RFC 9293's SND.WL1 rule alone the window stayed that of an older ACK while SND.UNA moved
  // on, and the right edge slid past what the peer had offered.
  const ackAdvances = seqGt(seg.ack, c.sndUna);
  if (c.cc.sack) {
    // RACK (RFC 8985 §6.2): what this ACK delivers, cumulatively or in SACK blocks.
    const una = ackAdvances ? seg.ack : c.sndUna;
    c.sent.acked(una, seg.options.sack, now);
  }
  if (ackAdvances) {
    newlyAcked(c, now, seg);
  } else if (
    seg.ack === c.sndUna &&
    seg.data.length === 0 &&
    !(seg.flags & (SYN | FIN)) &&
    window === c.sndWnd &&
    seqGt(c.sndMax, c.sndUna)
  ) {
    duplicateAck(c, now);
  }
  if (c.cc.sack) detectLoss(c, now);
  // Send window update (RFC 9293 §3.10.7.4): from a segment newer than the last one used, or
  // one that acknowledged new data (above).
  if (
    ackAdvances ||
    seqLt(c.sndWl1, seg.seq) ||
    (c.sndWl1 === seg.seq && seqLe(c.sndWl2, seg.ack))
  ) {
    if (c.sndWnd === 0 && window > 0) c.persistBackoff = 0;
    c.sndWnd = window;
    c.maxSndWnd = Math.max(c.maxSndWnd, window);
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    if (window > 0) c.timers.persist = undefined;
  }
  if (c.sndWnd === 0) c.retries = 0; // the peer is alive, only its window is shut
  // Our FIN acknowledged: the closing states move on (RFC 9293 §3.10.7.4).
  if (c.finAcked()) {
    if (c.state === "fin-wait-1") c.state = "fin-wait-2";
    else if (c.state === "closing") c.enterTimeWait(now);
    else if (c.state === "last-ack") {
      c.finish(undefined);
      return false;
    }
  }
  if (c.state === "time-wait" && seg.flags & FIN) {
    c.ackNow = true;
    c.enterTimeWait(now);
  }
  return true;
}

/**
 * A duplicate ACK (RFC 5681 §2): the third starts fast retransmit (RFC 6582 §3.2). With SACK,
 * RACK decides what is lost instead (recovery.ts), by time rather than by counting.
 */
function duplicateAck(c: Connection, now: number): void {
  if (c.cc.sack) return;
  if (c.cc.onDuplicateAck(c.flight(), c.sndMax) !== "fast-retransmit") return;
  c.rttSeq = undefined;
  sendData(c, now, c.sndUna, c.mss);
}

function newlyAcked(c: Connection, now: number, seg: Segment): void {
  const acked = seqDiff(seg.ack, c.sndUna);
  const flight = c.flight();
  // SYN and FIN take a sequence number each but no byte of the send queue.
  const synAcked = c.sndUna === c.iss ? 1 : 0;
  const finAcked = c.ourFinSeq !== undefined && seqGt(seg.ack, c.ourFinSeq) ? 1 : 0;
  c.sendQueue.drop(acked - synAcked - finAcked);
  c.sndUna = seg.ack;
  if (seqLt(c.sndNxt, c.sndUna)) c.sndNxt = c.sndUna;
  // An ACK of new data: a tail loss probe may be armed again (RFC 8985 §7.2).
  c.timers.probe = undefined;
  c.probeOut = false;
  // RTT (RFC 7323 §4.1 from the echoed timestamp; else RFC 6298 §3 with Karn's rule).
  const ts = seg.options.timestamp;
  if (c.useTimestamps && ts && ts.echo !== 0) {
    // An echo from before our last timeout may belong to the original transmission, whose ACK
    // was lost: such a sample measures the timeout, not the path (Karn's rule for timestamps).
    const sample = seqDiff(c.tsValue(now), ts.echo);
    if (sample >= 0 && seqGe(ts.echo, c.tsAtTimeout)) c.rtt.sample(sample);
  } else if (c.rttSeq !== undefined && seqGe(seg.ack, c.rttSeq)) {
    c.rtt.sample(now - c.rttStart);
    c.rttSeq = undefined;
  }
  c.retries = 0;
  if (c.cc.onAck(acked, seg.ack, flight, now, c.rtt.srtt ?? 0) === "retransmit") {
    sendData(c, now, c.sndUna, c.mss); // NewReno partial ACK: the next hole at once
  }
  // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart it.
  c.timers.retransmit = seqGe(c.sndUna, c.sndMax) ? undefined : now + c.rtt.current;
  if (c.sendQueue.free > 0 && c.wantWritable) {
    c.wantWritable = false;
    c.sink.events.push({ type: "tcp-writable", socket: c });
  }
}

/** Segment text and FIN (RFC 9293 §3.10.7.4 seventh and eighth checks). */
function processData(c: Connection, now: number, seg: Segment): void {
  const receiving =
    c.state === "established" || c.state === "fin-wait-1" || c.state === "fin-wait-2";
  let data = seg.data;
  let seq = seg.seq;
  if (receiving && data.length > 0) {
    // Trim to the window: the part before RCV.NXT is old, beyond the advertised edge is dropped.
    const head = seqDiff(c.rcvNxt, seq);
    if (head > 0) {
      data = data.subarray(Math.min(head, data.length));
      seq = c.rcvNxt;
    }
    const room = seqDiff(c.rcvAdv, seq);
    const finFits = data.length <= room;
    if (data.length > room) data = data.subarray(0, Math.max(0, room));
    if (seg.flags & FIN && finFits) c.peerFinAt = seqAdd(seq, data.length);
    if (data.length > 0) {
      if (seq === c.rcvNxt) {
        const filling = !c.outOfOrder.empty;
        c.receiveQueue.push(data);
        c.rcvNxt = seqAdd(c.rcvNxt, data.length);
        for (const more of c.outOfOrder.take(c.rcvNxt)) {
          c.receiveQueue.push(more);
          c.rcvNxt = seqAdd(c.rcvNxt, more.length);
        }
        c.sink.events.push({ type: "tcp-readable", socket: c });
        scheduleAck(c, now, filling, data.length);
      } else {
        if (!c.outOfOrder.insert(seq, data)) c.sink.stats.outOfOrderDropped++;
        // A gap: one duplicate ACK with SACK blocks per segment, at once (RFC 5681 §4.2), even
        // when several arrive in one batch, so the sender counts its duplicate ACKs.
        emit(c, now, c.sndMax, ACK);
      }
    }
  } else if (seg.flags & FIN && receiving && seq === c.rcvNxt) {
    c.peerFinAt = seq;
  } else if (seg.data.length > 0) {
    c.ackNow = true;
  }
  if (c.peerFinAt !== undefined && c.peerFinAt === c.rcvNxt && !c.finReceived) finArrives(c, now);
}

/** Delayed ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2): every second full segment, else after a delay. */
function scheduleAck(c: Connection, now: number, fillingGap: boolean, length: number): void {
  if (length >= c.ourMss - 60) c.unacked++;
  if (fillingGap || c.quickAcks > 0 || c.unacked >= 2) {
    if (c.quickAcks > 0) c.quickAcks--;
    c.ackNow = true;
  } else {
    c.timers.delayedAck ??= now + c.config.delayedAck;
  }
}

function finArrives(c: Connection, now: number): void {
  c.finReceived = true;
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.ackNow = true;
  c.sink.events.push({ type: "tcp-end", socket: c });
  if (c.state === "established") c.state = "close-wait";
  else if (c.state === "fin-wait-1") {
    if (c.finAcked()) c.enterTimeWait(now);
    else c.state = "closing";
  } else if (c.state === "fin-wait-2") c.enterTimeWait(now);
}
