/**
 * Signed-token identity on the relay: a hello's token verified (token-verifier.ts), checked
 * against the deny list (deny-list.ts) and the claims' policy (policy.ts); then, for each session
 * it admitted, the subject's session cap, the end of the session at the token's `exp` (plus the
 * grace), and its end when a reloaded deny list revokes it. Stateless across relays: each relay
 * verifies on its own, with no shared store (see docs/deploy.md, "Identity").
 */

import { unwatchFile, watchFile } from "node:fs";
import type { ErrorCode } from "@wiregate/relay-protocol";
import { KeyedBudget } from "../keyed-budget.js";
import type { Logger } from "../logger.js";
import { type DenyList, EMPTY_DENY_LIST, isDenied, readDenyList } from "./deny-list.js";
import type { IdentityConfig } from "./identity-config.js";
import { JwksSource } from "./jwks-source.js";
import { grantOf, mayReach } from "./policy.js";
import { TokenVerifier } from "./token-verifier.js";

/** Who a session's token says it is, and until when. */
export interface SessionIdentity {
  subject: string;
  jti: string | undefined;
  /** When the session ends: `exp` plus the grace, in milliseconds since the epoch. */
  endsAt: number;
  /** The bounded metric label (policy.ts). */
  label: string;
}

export interface IdentityRefusal {
  reason: string;
  code: ErrorCode;
  message: string;
  /** Known once the token verified. */
  subject?: string;
}

/** A session the identity may end: its token expired, or it was revoked. */
export interface IdentityHolder {
  endForIdentity(code: "token-expired" | "unauthorized", message: string, reason: string): void;
}

/** How often the deny file (and a JWKS file) are checked for changes. */
export const FILE_POLL_MS = 500;

/** setTimeout's longest delay; a later end is armed again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Identity {
  readonly verifier: TokenVerifier;
  readonly keys: JwksSource;
  readonly #config: IdentityConfig & { issuer: string };
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #subjects: KeyedBudget;
  readonly #held = new Map<
    IdentityHolder,
    { identity: SessionIdentity; timer?: ReturnType<typeof setTimeout> }
  >();
  #deny: DenyList = EMPTY_DENY_LIST;
  #watched: string[] = [];
  /** Admissions by label, and sessions ended by reason: for the metrics. */
  readonly admitted = new Map<string, number>();
  readonly ended = new Map<string, number>();
  denyReloads = { ok: 0, failed: 0 };

  constructor(
    config: IdentityConfig & { issuer: string },
    maxSessions: number,
    log: Logger,
    /** Wall-clock milliseconds since the epoch (the clock `exp` is on). */
    now: () => number = Date.now,
  ) {
    this.#config = config;
    this.#log = log;
    this.#now = now;
    this.keys = new JwksSource({
      ...(config.jwksUrl !== null ? { url: config.jwksUrl } : { file: config.jwksFile! }),
      refetchMs: config.jwksRefetchMs,
      maxAgeMs: config.jwksMaxAgeMs,
      timeoutMs: config.jwksTimeoutMs,
      maxBytes: config.jwksMaxBytes,
    });
    this.verifier = new TokenVerifier(config, this.keys);
    this.#subjects = new KeyedBudget({ total: maxSessions, perKey: config.maxSessionsPerSubject });
  }

  /** Sessions held by `subject` now. */
  sessionsOf(subject: string): number {
    return this.#subjects.count(subject);
  }

  /** Loads the keys and the deny list, and watches the files. A JWKS URL that fails is retried on demand. */
  async start(): Promise<void> {
    if (!(await this.keys.reload()))
      this.#log.warn("issuer keys not loaded; retried when a token comes", {
        error: this.keys.lastError,
      });
    if (this.#config.denyFile !== null) {
      const list = await readDenyList(this.#config.denyFile);
      if (typeof list === "string") throw new Error(list);
      this.#deny = list;
    }
    const watch = (file: string | null, reload: () => Promise<void>) => {
      if (file === null) return;
      watchFile(file, { interval: FILE_POLL_MS, persistent: false }, () => void reload());
      this.#watched.push(file);
    };
    watch(this.#config.denyFile, () => this.#reloadDenyList());
    watch(this.#config.jwksFile, () => this.#reloadKeys());
  }

  stop(): void {
    for (const file of this.#watched.splice(0)) unwatchFile(file);
    for (const held of this.#held.values()) clearTimeout(held.timer);
    this.#held.clear();
  }

  /**
   * SIGHUP: the issuer's keys (the file, or the URL at once, whatever the refetch interval: an
   * operator who knows of a rotation), then the deny list (ending what it revokes).
   */
  async reload(): Promise<void> {
    await this.#reloadKeys();
    await this.#reloadDenyList();
  }

  async #reloadKeys(): Promise<void> {
    if (!(await this.keys.reload()))
      this.#log.error("issuer keys reload failed; the previous keys stay", {
        error: this.keys.lastError,
      });
  }

  async #reloadDenyList(): Promise<void> {
    const file = this.#config.denyFile;
    if (file === null) return;
    const list = await readDenyList(file);
    if (typeof list === "string") {
      this.denyReloads.failed++;
      this.#log.error("deny list reload failed; the previous list stays", { error: list });
      return;
    }
    this.#deny = list;
    this.denyReloads.ok++;
    let ended = 0;
    for (const [holder, { identity }] of [...this.#held])
      if (isDenied(list, identity)) {
        this.#end(holder, "unauthorized", "token revoked", "token-revoked");
        ended++;
      }
    this.#log.info("deny list loaded", {
      jti: list.jti.size,
      sub: list.sub.size,
      endedSessions: ended,
    });
  }

  /** The token's verdict for `upstream`: who it is, or why not. */
  async check(token: string, upstream: string): Promise<SessionIdentity | IdentityRefusal> {
    const verified = await this.verifier.verify(token);
    if ("reason" in verified) return verified;
    const who = { subject: verified.subject, jti: verified.jti };
    if (isDenied(this.#deny, who))
      return {
        reason: "token-revoked",
        code: "unauthorized",
        message: "token revoked",
        subject: who.subject,
      };
    // Within the leeway jose accepts a token a little past its exp; a session would end at once.
    const endsAt = verified.expiresAt + this.#config.expiryGraceSeconds * 1000;
    if (endsAt <= this.#now())
      return { reason: "token-expired", code: "token-expired", message: "token expired" };
    const grant = grantOf(verified.claims, this.#config);
    if (!mayReach(grant, upstream))
      return {
        reason: "token-upstream",
        code: "forbidden",
        message: `token does not grant upstream ${upstream}`,
        subject: who.subject,
      };
    return { ...who, endsAt, label: grant.label };
  }

  /** Why `identity` may not hold one more session, if it may not. */
  capRefusal(identity: SessionIdentity): IdentityRefusal | undefined {
    if (this.#subjects.check(identity.subject) === undefined) return undefined;
    return {
      reason: "subject-limit",
      code: "limit",
      message: `${this.#config.maxSessionsPerSubject} sessions per user`,
      subject: identity.subject,
    };
  }

  /** `holder` is admitted as `identity`: takes its subject's slot and arms its end at `endsAt`. */
  hold(holder: IdentityHolder, identity: SessionIdentity): void {
    this.#subjects.tryTake(identity.subject);
    this.admitted.set(identity.label, (this.admitted.get(identity.label) ?? 0) + 1);
    this.#held.set(holder, { identity });
    // Checked at the hello, but the deny list may have been reloaded since (an upstream's address
    // assignment is awaited in between).
    if (isDenied(this.#deny, identity))
      this.#end(holder, "unauthorized", "token revoked", "token-revoked");
    else this.#arm(holder);
  }

  /** `holder` closed: its subject's slot is free again. */
  release(holder: IdentityHolder): void {
    const held = this.#held.get(holder);
    if (!held) return;
    clearTimeout(held.timer);
    this.#held.delete(holder);
    this.#subjects.release(held.identity.subject);
  }

  #arm(holder: IdentityHolder): void {
    const held = this.#held.get(holder);
    if (!held) return;
    const left = held.identity.endsAt - this.#now();
    if (left <= 0) {
      this.#end(
        holder,
        "token-expired",
        "token expired: a new token opens a new session",
        "token-expired",
      );
      return;
    }
    held.timer = setTimeout(() => this.#arm(holder), Math.min(left, MAX_TIMER_MS));
    held.timer.unref();
  }

  #end(
    holder: IdentityHolder,
    code: "token-expired" | "unauthorized",
    message: string,
    reason: string,
  ): void {
    this.ended.set(reason, (this.ended.get(reason) ?? 0) + 1);
    this.release(holder);
    holder.endForIdentity(code, message, reason);
  }
}
