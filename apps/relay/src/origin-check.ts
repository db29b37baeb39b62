/**
 * Which web pages may open sessions. A browser always sends `Origin` with a WebTransport or
 * WebSocket request, so a page of another site cannot pass for the relay's own: by default only
 * a page served from the host the request is addressed to (its `:authority` / `Host`) is let in,
 * plus the relay's names at its port and the configured origins. Clients that are not browsers (tools, the Node client, which sends
 * its bare host name as `Origin`) can send whatever they like, so the check cannot stop them:
 * without a browser's origin (a URL, or "null") they are let in unless the configuration requires one.
 * Over HTTP/3 the relay takes over the add-on's requests (http3-listener.ts) to get the headers,
 * so the same check runs there.
 */

import { isBrowseOrigin } from "./browse-origin.js";

export interface OriginPolicy {
  /** Origins let in besides the relay's own, like "https://app.example"; "*" lets any in. */
  allowedOrigins: readonly string[];
  /** Refuse sessions without an Origin header (browsers only). */
  requireOrigin: boolean;
  /** A public relay's Browse domain(s): no origin under them opens a session. */
  browseDomains?: readonly string[];
}

/** `scheme://host[:port]` as browsers write it (default port dropped), or undefined if not one. */
function normalized(origin: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(origin)) return undefined;
  try {
    const url = new URL(origin);
    return url.origin === "null" ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

const first = (value: unknown): string | undefined =>
  typeof value === "string" ? value : Array.isArray(value) ? first(value[0]) : undefined;

/** The origins of a relay reachable as `names` (host names or IP addresses) on `port`. */
export function ownOrigins(
  names: readonly string[],
  port: number,
  scheme: "https" | "http" = "https",
): string[] {
  return names.flatMap((name) => {
    const origin = normalized(`${scheme}://${name.includes(":") ? `[${name}]` : name}:${port}`);
    return origin === undefined ? [] : [origin];
  });
}

/** Why the request's origin is refused, or undefined when it may open a session. */
export function originRefusal(
  header: Record<string, unknown> | undefined,
  policy: OriginPolicy,
): string | undefined {
  const origin = first(header?.origin);
  const asked = origin === undefined ? undefined : normalized(origin);
  // A browser sends a URL, or "null" for an opaque origin (sandboxed frames, files), never else.
  if (asked === undefined && origin !== "null")
    return policy.requireOrigin ? "no browser Origin header" : undefined;
  // Pages shown by the Browse screen come from inside a tunnel: never a session of their own.
  if (asked !== undefined && isBrowseOrigin(asked, policy.browseDomains))
    return `origin ${asked.slice(0, 100)} is a Browse origin (content from inside a tunnel)`;
  if (policy.allowedOrigins.includes("*")) return undefined;
  const authority = first(header?.[":authority"]) ?? first(header?.host);
  const own = authority === undefined ? undefined : normalized(`https://${authority}`);
  if (asked !== undefined && (asked === own || policy.allowedOrigins.includes(asked)))
    return undefined;
  return `origin ${String(origin).slice(0, 100)} is not allowed`;
}
