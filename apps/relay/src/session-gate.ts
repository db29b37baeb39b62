/**
 * The relay's door for each incoming WebTransport session: refuses it before the hello when
 * admission says so, else starts a RelaySession and keeps its client's slot in the right budget
 * (pending until the hello is admitted, admitted until the session closes). Separate from relay.ts,
 * which owns the listeners, the certificate and shutdown; this is admission applied to one session.
 */

import { randomBytes } from "node:crypto";
import { peerAddressGroup } from "./address-group.js";
import type { Admission } from "./admission.js";
import type { Limits } from "./config.js";
import type { KeyedBudget } from "./keyed-budget.js";
import type { Logger } from "./logger.js";
import type { RelayCounters } from "./metrics.js";
import type { RefusalAudit } from "./refusal-audit.js";
import { RelaySession, transportOf } from "./session.js";
import type { CaptureSink, ServerSessionLike } from "./session-types.js";

export interface SessionGateOptions {
  admission: Admission;
  audit: RefusalAudit;
  limits: Limits;
  counters: RelayCounters;
  logger: Logger;
  capture: CaptureSink | undefined;
  clock: () => number;
  /** The relay's session table: a session is in it from its start until it closes. */
  sessions: Set<RelaySession>;
}

export class SessionGate {
  #sessionIndex = 0;

  readonly #options: SessionGateOptions;

  constructor(options: SessionGateOptions) {
    this.#options = options;
  }

  /** Refuses `wt` or starts its session; `draining` refuses every newcomer. */
  enter(wt: ServerSessionLike, kind: "http2" | "http3", draining: boolean): void {
    const { admission, audit, sessions } = this.#options;
    const clientAddress = peerAddressGroup(wt.peerAddress);
    const refusal = admission.beforeHello(wt.header, clientAddress, draining);
    if (refusal) {
      audit.refuse(refusal.reason, { client: clientAddress, why: refusal.why });
      try {
        wt.close({ closeCode: refusal.closeCode, reason: refusal.why });
      } catch {}
      return;
    }
    const { pending, admitted } = admission;
    pending.tryTake(clientAddress);
    let holds: KeyedBudget | undefined = pending;
    const index = ++this.#sessionIndex;
    const session = new RelaySession(wt, {
      id: randomBytes(8).toString("hex"),
      index,
      transport: transportOf(wt.header, kind),
      clientAddress,
      limits: this.#options.limits,
      counters: this.#options.counters,
      logger: this.#options.logger,
      capture: this.#options.capture,
      now: this.#options.clock,
      admit: async (hello) => {
        const decision = await admission.hello(hello, clientAddress);
        if ("code" in decision) return decision;
        // Closed while its addresses were asked for: it holds nothing any more.
        if (holds !== pending) return { code: "internal", message: "session closed" };
        // Checked with the hello, but another hello may have taken the last slot meanwhile.
        const full = admission.slotRefusal(clientAddress, decision.identity);
        if (full) return full;
        admitted.tryTake(clientAddress);
        pending.release(clientAddress);
        holds = admitted;
        if (decision.identity) admission.identity?.hold(session, decision.identity);
        return decision;
      },
      refused: ({ code, message, reason, subject }) =>
        audit.refuse(reason ?? code, {
          client: clientAddress,
          why: message,
          ...(subject !== undefined ? { subject } : {}),
        }),
      onClosed: (closed) => {
        if (!sessions.delete(closed)) return;
        holds?.release(clientAddress);
        holds = undefined;
        admission.identity?.release(closed);
      },
    });
    sessions.add(session);
    void session.run();
  }
}
