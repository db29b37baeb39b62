/** Protocol timing and limits, in milliseconds where they are times (see the WireGuard paper §6). */
export const REKEY_AFTER_MESSAGES = 2n ** 60n;
export { REJECT_AFTER_MESSAGES } from "./anti-replay.js";
export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
/** Upper bound of the random jitter added to handshake retransmissions and the new-handshake timer. */
export const REKEY_TIMEOUT_JITTER_MAX = 333;
export const KEEPALIVE_TIMEOUT = 10_000;
/** wireguard-go's MaxTimerHandshakes: retransmit while the attempt count is <= this (1 + 19 initiations). */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT;
/** An initiator rekeys on receive when its keypair is older than this. */
export const REKEY_ON_RECEIVE_AGE = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
export const COOKIE_REFRESH_TIME = 120_000;
/** An initiator stops using a cookie this long after receiving it (the responder's secret may rotate). */
export const COOKIE_USE_TIME = COOKIE_REFRESH_TIME - 5_000;
/** At most one consumed initiation per peer per this interval (50/s). */
export const INITIATION_FLOOD_INTERVAL = 20;
/** Handshake messages per second at which the device considers itself under load. */
export const DEFAULT_UNDER_LOAD_THRESHOLD = 128;
/** "Under load" stays on this long after the last time the threshold was crossed. */
export const UNDER_LOAD_STICKY = 1_000;
/** Per source address under load: handshake packets per second and burst. */
export const HANDSHAKE_RATE_PER_SECOND = 20;
export const HANDSHAKE_RATE_BURST = 5;
/** Packets kept per peer while no keypair exists; the oldest are dropped beyond it. */
export const MAX_STAGED_PACKETS = 128;
export const DEFAULT_MTU = 1420;
