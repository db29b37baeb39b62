/**
 * Who may open a session: the refusals decided from the request alone (draining, origin, memory,
 * the pending budget), and the hello's admission (version, token, upstream, the admitted budget).
 * Sessions before their hello and admitted ones have separate budgets, per address and in total.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { type HelloFrame, PROTOCOL_VERSION } from "@wiregate/relay-protocol";
import type { Limits } from "./config.js";
import type { Identity, SessionIdentity } from "./identity/identity.js";
import { looksLikeJwt } from "./identity/token-verifier.js";
import { KeyedBudget } from "./keyed-budget.js";
import { type OriginPolicy, originRefusal } from "./origin-check.js";
import type { Admitted, HelloRefusal } from "./session-types.js";
import type { UpstreamRegistry } from "./upstreams.js";

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** A refusal before anything is read: nothing is held, the session is closed with `closeCode`. */
export interface EarlyRefusal {
  reason: string;
  why: string;
  closeCode: number;
}

export class Admission {
  readonly #tokenDigests: Buffer[];
  readonly pending: KeyedBudget;
  readonly admitted: KeyedBudget;
  /** Origins let in: configured ones, and the relay's own names at its port (set once listening). */
  origins: OriginPolicy;

  constructor(
    tokens: readonly string[],
    readonly limits: Limits,
    origins: OriginPolicy,
    readonly upstreams: UpstreamRegistry,
    readonly rss: () => number,
    /** Signed tokens of the configured issuer; undefined: shared tokens only. */
    readonly identity?: Identity,
    /** Whether the shared tokens are accepted (false: signed tokens only). */
    readonly sharedTokens = true,
  ) {
    this.#tokenDigests = sharedTokens ? tokens.map(digest) : [];
    this.origins = origins;
    this.pending = new KeyedBudget({
      total: limits.maxPendingSessions,
      perKey: limits.maxPendingPerAddress,
    });
    this.admitted = new KeyedBudget({
      total: limits.maxSessions,
      perKey: limits.maxSessionsPerAddress,
    });
  }

  get openMode(): boolean {
    return this.#tokenDigests.length === 0 && this.identity === undefined;
  }

  /** Refused by the request's headers alone (the origin check), before any slot or address. */
  byHeaders(header: Record<string, unknown> | undefined): EarlyRefusal | undefined {
    const origin = originRefusal(header, this.origins);
    return origin ? { reason: "origin", why: origin, closeCode: 403 } : undefined;
  }

  /**
   * Refusals decided from the request alone, before anything is read: no slot is taken and
   * nothing is kept. Before authentication a session costs a pending slot only.
   */
  beforeHello(
    header: Record<string, unknown> | undefined,
    clientAddress: string,
    draining: boolean,
  ): EarlyRefusal | undefined {
    if (draining) return { reason: "limit", why: "relay is draining", closeCode: 429 };
    const byHeaders = this.byHeaders(header);
    if (byHeaders) return byHeaders;
    const mark = this.limits.memoryMarkBytes;
    if (mark !== null && this.rss() > mark)
      return { reason: "memory", why: "relay is shedding load (memory)", closeCode: 503 };
    const full = this.pending.check(clientAddress);
    if (full === "per-key")
      return { reason: "limit", why: "pending sessions per address", closeCode: 429 };
    if (full === "total") return { reason: "limit", why: "pending sessions", closeCode: 429 };
    return undefined;
  }

  /**
   * The hello's verdict: an error to send, or the upstream it may use (with the tunnel addresses
   * that upstream gives the hello's key, if it gives any). Takes no session slot: the caller takes
   * it, checking again, since another hello may have taken the last one while this one awaited
   * its addresses.
   */
  async hello(hello: HelloFrame, clientAddress: string): Promise<HelloRefusal | Admitted> {
    if (hello.version !== PROTOCOL_VERSION) {
      return { code: "version", message: `relay speaks version ${PROTOCOL_VERSION}` };
    }
    let identity: SessionIdentity | undefined;
    if (!this.openMode) {
      const token = hello.token ?? "";
      if (this.identity && looksLikeJwt(token)) {
        const checked = await this.identity.check(token, hello.upstream);
        if ("reason" in checked) return checked;
        identity = checked;
      } else if (!this.#sharedToken(token)) {
        return this.sharedTokens
          ? { code: "unauthorized", message: "missing or wrong token" }
          : {
              code: "unauthorized",
              message: "a signed token is required",
              reason: "token-missing",
            };
      }
    }
    const upstream = this.upstreams.get(hello.upstream);
    if (!upstream)
      return { code: "unknown-upstream", message: `no upstream named ${hello.upstream}` };
    const full = this.slotRefusal(clientAddress, identity);
    if (full) return full;
    const assigner = this.upstreams.assigner(upstream.name);
    if (!assigner || hello.publicKey === undefined)
      return identity ? { upstream, identity } : { upstream };
    let addresses: string[] | undefined;
    try {
      addresses = await assigner.addressesFor(Buffer.from(hello.publicKey, "base64"));
    } catch (error) {
      const why = (error as Error)?.message ?? String(error);
      return { code: "upstream-unreachable", message: `upstream ${upstream.name}: ${why}` };
    }
    if (!addresses)
      return { code: "limit", message: `upstream ${upstream.name} has no free client slot` };
    return identity ? { upstream, addresses, identity } : { upstream, addresses };
  }

  #sharedToken(token: string): boolean {
    const offered = digest(token);
    return this.#tokenDigests.some((d) => timingSafeEqual(d, offered));
  }

  /** Why no admitted slot is free for `clientAddress` (and the token's subject) now, if none is. */
  slotRefusal(clientAddress: string, identity?: SessionIdentity): HelloRefusal | undefined {
    const subject = identity && this.identity?.capRefusal(identity);
    if (subject) return subject;
    const full = this.admitted.check(clientAddress);
    if (full === "total")
      return { code: "limit", message: `relay has ${this.limits.maxSessions} sessions` };
    if (full === "per-key")
      return {
        code: "limit",
        message: `${this.limits.maxSessionsPerAddress} sessions per address`,
      };
    return undefined;
  }
}
