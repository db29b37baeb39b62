/**
 * Every relay session the worker holds (the tunnel's, a fleet's measuring dials, a raw flood's),
 * so that a page that goes away ends them all at once with its reason (`GOING_AWAY`) instead of
 * leaving them open on the relay until its transport's idle timeout. While the page is away (in
 * the back-forward cache), a session that finishes opening is closed the same way at once.
 *
 * The worker may not read the page's last message in time (busy when the page went, or ended by
 * the browser first), so the page also holds each session's close beacon (`POST <relay>/close`
 * with the session's id and the welcome's `closeToken`) and sends it itself on `pagehide`.
 */
import { type CloseInfo, closeBeaconPath, type RelayConnection } from "@wiregate/relay-protocol";
import type { CloseBeacon } from "./protocol.js";

/** The close beacon of a session to the relay at `relayUrl`; none when the relay gave no token. */
export function closeBeacon(relayUrl: string, conn: RelayConnection): CloseBeacon | undefined {
  const { sessionId, closeToken } = conn.welcome;
  if (!closeToken) return undefined;
  return { url: closeBeaconPath(relayUrl), body: `${sessionId} ${closeToken}` };
}

export class RelaySessions {
  readonly #open = new Map<RelayConnection, CloseBeacon | undefined>();
  #away: CloseInfo | undefined;
  #changed: (beacons: CloseBeacon[]) => void = () => {};

  /** Calls `changed` with the open sessions' beacons whenever they change. */
  watch(changed: (beacons: CloseBeacon[]) => void): void {
    this.#changed = changed;
  }

  /** Holds `conn` (a session to the relay at `relayUrl`) until it closes; returns it. */
  add(conn: RelayConnection, relayUrl: string): RelayConnection {
    if (this.#away) {
      conn.close(this.#away);
      return conn;
    }
    this.#open.set(conn, closeBeacon(relayUrl, conn));
    this.#tell();
    void conn.closed.then(() => {
      if (this.#open.delete(conn)) this.#tell();
    });
    return conn;
  }

  /** Sessions open now. */
  get size(): number {
    return this.#open.size;
  }

  /** The page went away: every session closes with `info`, and so does each that opens later. */
  closeAll(info: CloseInfo): void {
    this.#away = info;
    const open = [...this.#open.keys()];
    this.#open.clear();
    for (const conn of open) conn.close(info);
    this.#tell();
  }

  /** The page is shown again: sessions may stay open. */
  back(): void {
    this.#away = undefined;
  }

  #tell(): void {
    this.#changed([...this.#open.values()].filter((b) => b !== undefined));
  }
}

/** The worker's sessions: `openRelaySession` adds each one it opens. */
export const relaySessions = new RelaySessions();
