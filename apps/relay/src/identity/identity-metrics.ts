/**
 * The identity's metrics: admissions by policy label (bounded by the configuration: group names,
 * `claim`, `none`; never the subject), sessions ended by their token (expired, revoked), and the
 * loads of the issuer's keys and of the deny list. Refusals are counted with the others, by reason,
 * in `wiregate_relay_refusals_total`.
 */

import { Counter, type Registry } from "prom-client";
import type { Identity } from "./identity.js";

function counter(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  read: () => Iterable<[string, number]>,
): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of read()) this.inc({ [label]: value }, count);
    },
  });
}

export function registerIdentityMetrics(registry: Registry, identity: Identity): void {
  counter(
    registry,
    "wiregate_relay_token_sessions_total",
    "Sessions admitted with a signed token, by policy (the configured group that granted it, claim, or none)",
    "policy",
    () => identity.admitted,
  );
  counter(
    registry,
    "wiregate_relay_token_session_ends_total",
    "Sessions ended by their token: expired, or revoked by the deny list",
    "reason",
    () => identity.ended,
  );
  counter(
    registry,
    "wiregate_relay_jwks_loads_total",
    "Loads of the issuer's keys (JWKS URL or file), by result",
    "result",
    () => Object.entries(identity.keys.loads),
  );
  counter(
    registry,
    "wiregate_relay_deny_list_loads_total",
    "Reloads of the deny list, by result",
    "result",
    () => Object.entries(identity.denyReloads),
  );
}
