/** What each TCP timer does when it expires (one small function per timer, as wireguard-go does). */
import { seqAdd, seqDiff } from "../seq.js";
import type { Connection, TimerName } from "./connection.js";
import { TIMERS } from "./connection.js";
import { emit, sendData } from "./output.js";
import { detectLoss } from "./recovery.js";
import { ACK } from "./segment.js";

export function expireTimers(c: Connection, now: number): void {
  for (const name of TIMERS) {
    const at = c.timers[name];
    if (at !== undefined && at <= now) {
      c.timers[name] = undefined;
      EXPIRE[name](c, now);
      if (c.state === "closed") return;
    }
  }
}

const EXPIRE: Record<TimerName, (c: Connection, now: number) => void> = {
  retransmit,
  reorder: detectLoss,
  probe,
  delayedAck: (c) => {
    c.ackNow = true;
    c.sink.stats.delayedAcks++;
  },
  persist,
  keepalive,
  timeWait: (c) => c.finish(undefined),
};

/**
 * RFC 6298 §5.4–5.7: back off and resend from SND.UNA; RFC 5681 §3.1: loss window of one segment.
 * With SACK (RFC 8985 §6.3), what the peer SACKed stays known and the rest is deemed lost, resent
 * in slow start; a second timeout in a row forgets the SACKs too (the peer may have reneged, RFC
 * 2018 §8). Without SACK, the sender goes back to SND.UNA.
 */
function retransmit(c: Connection, now: number): void {
  c.retries++;
  const handshake = c.state === "syn-sent" || c.state === "syn-received";
  const limit =
    c.state === "syn-sent"
      ? c.config.synRetries
      : c.state === "syn-received"
        ? c.config.synAckRetries
        : c.config.maxRetransmissions;
  if (c.retries > limit) {
    c.finish("timed-out");
    return;
  }
  c.sink.stats.timeouts++;
  c.rtt.backoff++;
  c.rttSeq = undefined; // Karn's rule: never time a retransmitted segment
  c.tsAtTimeout = c.tsValue(now);
  if (!handshake) c.cc.onTimeout(c.flight());
  c.timers.reorder = undefined;
  c.timers.probe = undefined;
  c.probeOut = false;
  if (handshake || !c.cc.sack) {
    c.sndNxt = handshake ? c.iss : c.sndUna;
    c.sink.stats.retransmissions++;
  } else {
    c.sent.timedOut(c.retries > 1);
    c.rtoRecover = c.sndMax;
  }
  c.timers.retransmit = now + c.rtt.current;
}

/**
 * A tail loss probe (RFC 8985 §7.3): one segment of new data if the peer's window takes it, else
 * the highest segment sent again, so the ACK it draws lets RACK find a lost tail; then the
 * retransmission timer.
 */
function probe(c: Connection, now: number): void {
  const offset = seqDiff(c.sndNxt, c.sndUna);
  const unsent = c.sendQueue.length - offset;
  let sent = 0;
  if (unsent > 0 && c.sndWnd - offset >= Math.min(c.mss, unsent)) {
    sent = sendData(c, now, c.sndNxt, c.sndWnd - offset);
    c.sndNxt = seqAdd(c.sndNxt, sent);
  }
  // Else the highest segment again, with the FIN if it follows.
  const last = c.sent.lastData(c.ourFinSeq);
  if (sent === 0 && last) sent = sendData(c, now, last.start, seqDiff(c.sndMax, last.start));
  if (sent === 0) return;
  c.sink.stats.lossProbes++;
  c.probeOut = true;
  c.timers.retransmit = now + c.rtt.current;
}

/**
 * Zero window: a probe the receiver must answer with its window (RFC 9293 §3.8.6.1), sent as Linux
 * does with an already acknowledged sequence number. A small usable window: send what fits.
 */
function persist(c: Connection, now: number): void {
  if (c.sndWnd > 0) {
    const sent = sendData(c, now, c.sndNxt, c.sndWnd);
    c.sndNxt = seqAdd(c.sndNxt, sent);
    return;
  }
  emit(c, now, seqAdd(c.sndUna, -1), ACK);
  c.persistBackoff = Math.min(c.persistBackoff + 1, 10);
  c.timers.persist = now + Math.min(60_000, c.rtt.current * 2 ** c.persistBackoff);
}

/** RFC 1122 §4.2.3.6: a probe with SEG.SEQ = SND.NXT − 1; after `count` unanswered, give up. */
function keepalive(c: Connection, now: number): void {
  const k = c.keepAlive;
  if (!k || c.state !== "established") return;
  if (c.keepAliveProbes >= k.count) {
    c.finish("timed-out");
    return;
  }
  c.keepAliveProbes++;
  emit(c, now, seqAdd(c.sndNxt, -1), ACK);
  c.timers.keepalive = now + k.interval;
}
