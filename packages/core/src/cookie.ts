/**
 * Cookies (WireGuard paper §5.4.7): under load a responder answers handshake messages that lack a
 * valid mac2 with a cookie reply instead of doing DH work; the initiator then adds mac2 made with it.
 */

import { COOKIE_REFRESH_TIME, COOKIE_USE_TIME } from "./constants.js";
import type { CryptoBackend } from "./crypto/types.js";
import type { Entropy } from "./entropy.js";
import { type CookieReply, encodeCookieReply } from "./messages.js";
import { cookieKey, mac1Key, verifyMac1, verifyMac2, writeMacs } from "./noise.js";

const encoder = new TextEncoder();

/** The bytes a cookie is bound to: the sender's address and port. */
export function endpointBytes(address: string, port: number): Uint8Array {
  return encoder.encode(`${address}|${port}`);
}

/** Responder side: checks mac1/mac2 of messages sent to us and makes cookie replies. */
export class CookieChecker {
  readonly #mac1Key: Uint8Array;
  readonly #cookieKey: Uint8Array;
  #secret: Uint8Array | null = null;
  #secretBornAt = 0;

  constructor(
    private readonly c: CryptoBackend,
    localStaticPublic: Uint8Array,
  ) {
    this.#mac1Key = mac1Key(c, localStaticPublic);
    this.#cookieKey = cookieKey(c, localStaticPublic);
  }

  checkMac1(message: Uint8Array): boolean {
    return verifyMac1(this.c, message, this.#mac1Key);
  }

  checkMac2(now: number, message: Uint8Array, source: Uint8Array): boolean {
    if (this.#secret === null || now - this.#secretBornAt >= COOKIE_REFRESH_TIME) return false;
    return verifyMac2(this.c, message, this.c.mac(this.#secret, source));
  }

  /** A cookie reply to `message` (whose sender index is `receiver`), bound to `source`. */
  createReply(
    now: number,
    entropy: Pick<Entropy, "cookieSecret" | "cookieNonce">,
    message: Uint8Array,
    receiver: number,
    source: Uint8Array,
  ): Uint8Array {
    if (this.#secret === null || now - this.#secretBornAt >= COOKIE_REFRESH_TIME) {
      this.#secret = entropy.cookieSecret();
      this.#secretBornAt = now;
    }
    const cookie = this.c.mac(this.#secret, source);
    const nonce = entropy.cookieNonce();
    const mac1 = message.subarray(message.length - 32, message.length - 16);
    const encryptedCookie = this.c.xseal(this.#cookieKey, nonce, cookie, mac1);
    return encodeCookieReply({ receiver, nonce, encryptedCookie });
  }
}

/** Initiator side, per peer: macs on the messages we send it, and the cookie it gave us. */
export class CookieJar {
  readonly #mac1Key: Uint8Array;
  readonly #cookieKey: Uint8Array;
  #cookie: Uint8Array | null = null;
  #cookieAt = 0;
  /** mac1 of the last handshake message we sent: the AAD a cookie reply to it must carry. */
  #lastMac1: Uint8Array | null = null;

  constructor(
    private readonly c: CryptoBackend,
    remoteStaticPublic: Uint8Array,
  ) {
    this.#mac1Key = mac1Key(c, remoteStaticPublic);
    this.#cookieKey = cookieKey(c, remoteStaticPublic);
  }

  /** Writes mac1, and mac2 while we hold a fresh cookie, into an outgoing handshake message. */
  addMacs(now: number, message: Uint8Array): void {
    const fresh = this.#cookie !== null && now - this.#cookieAt < COOKIE_USE_TIME;
    writeMacs(this.c, message, this.#mac1Key, fresh ? this.#cookie : null);
    this.#lastMac1 = message.slice(message.length - 32, message.length - 16);
  }

  /** Takes a cookie reply; false when it does not decrypt against our last mac1. */
  consumeReply(now: number, reply: CookieReply): boolean {
    if (this.#lastMac1 === null) return false;
    const cookie = this.c.xopen(
      this.#cookieKey,
      reply.nonce,
      reply.encryptedCookie,
      this.#lastMac1,
    );
    if (cookie === null) return false;
    this.#cookie = cookie;
    this.#cookieAt = now;
    return true;
  }
}
