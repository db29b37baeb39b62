/** What each TCP timer does when it expires (one small function per timer, as wireguard-go does). */
import { seqAdd } from "../seq.js";
import type { Connection, TimerName } from "./connection.js";
import { TIMERS } from "./connection.js";
import { emit, sendData } from "./output.js";
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
  delayedAck: (c) => {
    c.ackNow = true;
    c.sink.stats.delayedAcks++;
  },
  persist,
  keepalive,
  timeWait: (c) => c.finish(undefined),
};

/** RFC 6298 §5.4–5.7: back off, go back to SND.UNA; RFC 5681 §3.1: loss window of one segment. */
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
  // The receiver may have reneged: forget what it SACKed (RFC 2018 §8).
  c.scoreboard.clear();
  c.scoreboard.highRxt = c.sndUna;
  c.sndNxt = handshake ? c.iss : c.sndUna;
  c.sink.stats.retransmissions++;
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
