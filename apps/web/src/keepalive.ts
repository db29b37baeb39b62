/**
 * How often the page's WireGuard peer sends a persistent keepalive, so that a connected page left
 * alone keeps its relay session: the relay closes a session after `idleTimeoutMs` with nothing
 * from the client (it says how long in the welcome), and each keepalive is a 32-byte WireGuard
 * message that counts as something. A third of the relay's idle timeout, so two may be late; at
 * most 25 s (the interval WireGuard's documentation suggests for NAT) and at least 1 s, so the rate
 * is bounded whatever a relay says. A keepalive the user configured wins when it is more frequent.
 */

/** WireGuard's usual persistent keepalive, and the interval against a relay that names no timeout. */
export const DEFAULT_KEEPALIVE_SECONDS = 25;
/** The most frequent keepalive the page sends, whatever the relay's idle timeout. */
export const MIN_KEEPALIVE_SECONDS = 1;

/** Persistent keepalive (whole seconds) for a session whose relay closes after `idleTimeoutMs`. */
export function sessionKeepaliveSeconds(
  idleTimeoutMs: number | undefined,
  configuredSeconds: number | undefined,
): number {
  const forRelay =
    idleTimeoutMs === undefined
      ? DEFAULT_KEEPALIVE_SECONDS
      : Math.min(
          DEFAULT_KEEPALIVE_SECONDS,
          Math.max(MIN_KEEPALIVE_SECONDS, Math.floor(idleTimeoutMs / 3_000)),
        );
  return configuredSeconds && configuredSeconds > 0
    ? Math.min(configuredSeconds, forRelay)
    : forRelay;
}
