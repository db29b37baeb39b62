/**
 * RACK-TLP (RFC 8985) on a connection whose peer permits SACK: when to deem segments lost (after
 * each ACK and when the reordering timer expires), and when to send a tail loss probe.
 */
import { seqLt } from "../seq.js";
import type { Connection } from "./connection.js";

/** RFC 8985 §7.2 WCDelAckT: the longest a receiver may delay the ACK of a lone segment. */
const WORST_CASE_DELAYED_ACK = 200;

/**
 * RACK loss detection (RFC 8985 §6.2 step 5) and its reordering timer; losses found outside a
 * recovery start one (RFC 6675 §5 step (4.2)) unless they follow a retransmission timeout whose
 * data is still being resent (RFC 6675 §5.1).
 */
export function detectLoss(c: Connection, now: number): void {
  const srtt = c.rtt.srtt ?? c.rtt.rto;
  const { lost, wait } = c.sent.detectLoss(now, c.cc.inRecovery, srtt);
  c.timers.reorder = wait === undefined ? undefined : now + wait;
  if (lost === 0 || c.cc.inRecovery) return;
  if (c.rtoRecover !== undefined && seqLt(c.sndUna, c.rtoRecover)) return;
  c.rtoRecover = undefined;
  c.cc.enterRecovery(c.flight(), c.sndMax);
}

/**
 * Arms the tail loss probe (RFC 8985 §7.2): with data in flight and no loss being repaired, two
 * round trips without an ACK send a probe; when the retransmission timer would fire first, the
 * probe goes out in its place (and the timer is armed again after it).
 */
export function armProbe(c: Connection, now: number): void {
  if (c.timers.probe !== undefined || c.probeOut || c.rtt.srtt === undefined) return;
  if (c.cc.inRecovery || c.sent.lostBytes > 0 || c.sent.empty) return;
  let pto = 2 * c.rtt.srtt;
  if (c.sent.pipe <= c.mss) pto += WORST_CASE_DELAYED_ACK;
  const rto = c.timers.retransmit ?? Number.POSITIVE_INFINITY;
  c.timers.probe = Math.min(now + Math.max(pto, 1), rto);
}
