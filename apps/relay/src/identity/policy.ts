/**
 * Per-user policy from a verified token's claims: which upstreams its subject may reach (the
 * upstreams claim, and the configured upstreams of each of its groups), and the label its sessions
 * are counted under. The label is never the subject itself: it is one of the configured group
 * names, `claim` or `none`, so the metric's cardinality is bounded by the configuration, not by
 * the number of users (the subject goes to the audit log instead).
 */

import type { JWTPayload } from "jose";
import type { IdentityConfig } from "./identity-config.js";

export interface Grant {
  /** Upstream names, or "*" for any. */
  upstreams: ReadonlySet<string>;
  /** The metric label: the first configured group that granted anything, else `claim` or `none`. */
  label: string;
}

const MAX_LISTED = 1000;

/** A claim read as a list of strings: a string alone counts as one; anything else as none. */
function stringsOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) return [];
  return value.slice(0, MAX_LISTED).filter((item): item is string => typeof item === "string");
}

export function grantOf(claims: JWTPayload, config: IdentityConfig): Grant {
  const upstreams = new Set(stringsOf(claims[config.upstreamsClaim]));
  let label = upstreams.size > 0 ? "claim" : "none";
  const groups = new Set(stringsOf(claims[config.groupsClaim]));
  let labelled = false;
  for (const [group, names] of Object.entries(config.groupUpstreams)) {
    if (!groups.has(group)) continue;
    for (const name of names) upstreams.add(name);
    if (!labelled && names.length > 0) {
      label = group;
      labelled = true;
    }
  }
  return { upstreams, label };
}

export function mayReach(grant: Grant, upstream: string): boolean {
  return grant.upstreams.has("*") || grant.upstreams.has(upstream);
}
