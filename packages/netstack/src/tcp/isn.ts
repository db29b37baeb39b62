/**
 * Initial sequence numbers (RFC 6528 §3): ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a 4 µs clock and F a keyed hash. The secret comes from the injected random source,
 * so an off-path attacker cannot predict the ISN of a new connection.
 */
import { nobleCrypto } from "@wiregate/core";

export class IsnGenerator {
  readonly #secret: Uint8Array;

  constructor(random: (n: number) => Uint8Array) {
    this.#secret = random(32);
  }

  next(now: number, local: string, localPort: number, remote: string, remotePort: number): number {
    const tuple = new TextEncoder().encode(`${local}|${localPort}|${remote}|${remotePort}`);
    const h = nobleCrypto.hash(this.#secret, tuple);
    const f = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    const m = Math.floor(now * 250) >>> 0; // one tick every 4 µs
    return (f + m) >>> 0;
  }
}
