/**
 * Key material for decryption, held the way Wireshark's WireGuard dissector holds it: static keys
 * (public, with the private key when known) probed by mac1, and ephemeral private keys looked up by
 * their public key, each with the preshared keys bound to it.
 */
import {
  type CryptoBackend,
  type KeyLogError,
  keyToBase64,
  mac1Key,
  nobleCrypto,
  parseKeyLog,
} from "@wiregate/core";

export interface StaticKey {
  publicKey: Uint8Array;
  privateKey: Uint8Array | null;
  mac1Key: Uint8Array;
}

export interface EphemeralKey {
  publicKey: Uint8Array;
  privateKey: Uint8Array | null;
  /** PSKs bound to this ephemeral key, newest first (Wireshark's order). */
  psks: Uint8Array[];
}

/** Hex text of bytes: the map key for public keys. */
export function hexOf(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += (bytes[i]! + 0x100).toString(16).slice(1);
  return out;
}

export class KeyMaterial {
  readonly statics = new Map<string, StaticKey>();
  readonly ephemerals = new Map<string, EphemeralKey>();
  /** Problems found in the key logs added so far (line numbers are per added text). */
  readonly errors: (KeyLogError & { source: string })[] = [];
  #lastEphemeral: EphemeralKey | null = null;

  constructor(readonly crypto: CryptoBackend = nobleCrypto) {}

  get size(): number {
    return this.statics.size + this.ephemerals.size;
  }

  /** Adds a Wireshark-format key log (a file, or a pcapng Decryption Secrets Block). */
  addKeyLog(text: string, source = "key log"): this {
    const parsed = parseKeyLog(text);
    for (const error of parsed.errors) this.errors.push({ ...error, source });
    for (const entry of parsed.entries) {
      switch (entry.type) {
        case "LOCAL_STATIC_PRIVATE_KEY":
          this.addStatic(entry.key, true);
          break;
        case "REMOTE_STATIC_PUBLIC_KEY":
          this.addStatic(entry.key, false);
          break;
        case "LOCAL_EPHEMERAL_PRIVATE_KEY":
          this.#lastEphemeral = this.addEphemeralPrivate(entry.key);
          break;
        case "PRESHARED_KEY":
          // Bound to the latest ephemeral key not yet claimed (Wireshark's wg_keylog_last_ekey).
          if (this.#lastEphemeral) this.#lastEphemeral.psks.unshift(entry.key.slice());
          this.#lastEphemeral = null;
          break;
      }
    }
    return this;
  }

  addStatic(key: Uint8Array, isPrivate: boolean): StaticKey {
    const publicKey = isPrivate ? this.crypto.x25519Public(key) : key.slice();
    const id = hexOf(publicKey);
    const known = this.statics.get(id);
    if (known) {
      if (isPrivate && !known.privateKey) known.privateKey = key.slice();
      return known;
    }
    const entry: StaticKey = {
      publicKey,
      privateKey: isPrivate ? key.slice() : null,
      mac1Key: mac1Key(this.crypto, publicKey),
    };
    this.statics.set(id, entry);
    return entry;
  }

  addEphemeralPrivate(key: Uint8Array): EphemeralKey {
    const publicKey = this.crypto.x25519Public(key);
    const id = hexOf(publicKey);
    const known = this.ephemerals.get(id);
    if (known) return known;
    const entry: EphemeralKey = { publicKey, privateKey: key.slice(), psks: [] };
    this.ephemerals.set(id, entry);
    return entry;
  }

  /** The static key whose mac1 key authenticates this handshake message (receiver's identity). */
  probeMac1(message: Uint8Array): StaticKey | null {
    if (this.statics.size === 0) return null;
    const macOffset = message.length - 32;
    const covered = message.slice(0, macOffset);
    covered[1] = covered[2] = covered[3] = 0;
    const mac1 = message.subarray(macOffset, macOffset + 16);
    for (const key of this.statics.values()) {
      const mac = this.crypto.mac(key.mac1Key, covered);
      let diff = 0;
      for (let i = 0; i < 16; i++) diff |= mac[i]! ^ mac1[i]!;
      if (diff === 0) return key;
    }
    return null;
  }

  /** Static private key for a public key, when the key log has it. */
  staticPrivate(publicKey: Uint8Array): Uint8Array | null {
    return this.statics.get(hexOf(publicKey))?.privateKey ?? null;
  }

  ephemeral(publicKey: Uint8Array): EphemeralKey | undefined {
    return this.ephemerals.get(hexOf(publicKey));
  }
}

export function base64Key(key: Uint8Array): string {
  return keyToBase64(key);
}
