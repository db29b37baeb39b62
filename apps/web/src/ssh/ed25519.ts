/**
 * `ssh-ed25519` (RFC 8709) for @microsoft/dev-tunnels-ssh, which predates Ed25519 in Web Crypto:
 * host keys verified and user keys signed with the browser's Web Crypto Ed25519 (Chromium 137,
 * Firefox 129, Safari 17), plugged in as one more of the library's public-key algorithms. (Not
 * noble's: its Ed25519 shares a module with the X25519 the page loads first, and would land in
 * the page's first chunk.)
 */
import {
  type KeyPair,
  PublicKeyAlgorithm,
  type Signer,
  type Verifier,
} from "@microsoft/dev-tunnels-ssh";
import { Buffer } from "buffer";

export const ED25519 = "ssh-ed25519";

/** An SSH string: uint32 length, then the bytes. */
export function sshString(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  out.set(bytes, 4);
  return out;
}

export class Ed25519KeyPair implements KeyPair {
  publicKey: Uint8Array | undefined;
  /** The 32-byte seed (RFC 8032's private key). */
  secret: Uint8Array | undefined;
  comment: string | null = null;

  get keyAlgorithmName(): string {
    return ED25519;
  }
  get hasPublicKey(): boolean {
    return this.publicKey !== undefined;
  }
  get hasPrivateKey(): boolean {
    return this.secret !== undefined;
  }

  /** The key of a 32-byte seed; its public half from Web Crypto (a private JWK carries it). */
  static async fromSecret(secret: Uint8Array): Promise<Ed25519KeyPair> {
    const key = new Ed25519KeyPair();
    key.secret = secret;
    const jwk = await crypto.subtle.exportKey("jwk", await signingKey(secret, true));
    // (The `buffer` package knows no "base64url".)
    key.publicKey = Buffer.from((jwk.x ?? "").replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (key.publicKey.length !== 32) throw new Error("Web Crypto gave no Ed25519 public key");
    return key;
  }

  async setPublicKeyBytes(blob: Buffer): Promise<void> {
    const typeLength = blob.readUInt32BE(0);
    const type = blob.subarray(4, 4 + typeLength).toString("latin1");
    const at = 4 + typeLength;
    const length = blob.length >= at + 4 ? blob.readUInt32BE(at) : 0;
    if (type !== ED25519 || length !== 32 || blob.length !== at + 4 + 32) {
      throw new Error("malformed ssh-ed25519 public key");
    }
    this.publicKey = new Uint8Array(blob.subarray(at + 4));
  }

  async getPublicKeyBytes(): Promise<Buffer | null> {
    if (!this.publicKey) return null;
    return Buffer.concat([sshString(Buffer.from(ED25519)), sshString(this.publicKey)]);
  }

  async generate(): Promise<void> {
    const generated = await Ed25519KeyPair.fromSecret(crypto.getRandomValues(new Uint8Array(32)));
    this.secret = generated.secret;
    this.publicKey = generated.publicKey;
  }

  async importParameters(): Promise<void> {
    throw new Error("ssh-ed25519 keys have no parameters to import");
  }

  async exportParameters(): Promise<never> {
    throw new Error("ssh-ed25519 keys have no parameters to export");
  }

  dispose(): void {}
}

export class Ed25519 extends PublicKeyAlgorithm {
  constructor() {
    super(ED25519, ED25519, "SHA2-512");
  }

  createKeyPair(): KeyPair {
    return new Ed25519KeyPair();
  }

  async generateKeyPair(): Promise<KeyPair> {
    const key = new Ed25519KeyPair();
    await key.generate();
    return key;
  }

  createSigner(keyPair: KeyPair): Signer {
    const { secret } = keyPair as Ed25519KeyPair;
    if (!secret) throw new Error("no private key to sign with");
    return {
      digestLength: 64,
      sign: async (data: Buffer) =>
        Buffer.from(
          await crypto.subtle.sign(
            "Ed25519",
            await signingKey(secret),
            data as Uint8Array<ArrayBuffer>,
          ),
        ),
      dispose: () => {},
    };
  }

  createVerifier(keyPair: KeyPair): Verifier {
    const { publicKey } = keyPair as Ed25519KeyPair;
    if (!publicKey) throw new Error("no public key to verify with");
    return {
      digestLength: 64,
      verify: async (data: Buffer, signature: Buffer) => {
        const key = await crypto.subtle.importKey(
          "raw",
          publicKey as Uint8Array<ArrayBuffer>,
          { name: "Ed25519" },
          false,
          ["verify"],
        );
        return crypto.subtle.verify(
          "Ed25519",
          key,
          signature as Uint8Array<ArrayBuffer>,
          data as Uint8Array<ArrayBuffer>,
        );
      },
      dispose: () => {},
    };
  }
}

export const ssh_ed25519 = new Ed25519();

/** PKCS#8's wrapping of an Ed25519 seed (RFC 8410): a fixed prefix, then the 32 bytes. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function signingKey(secret: Uint8Array, extractable = false): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "pkcs8",
    Buffer.concat([PKCS8_PREFIX, secret]) as Uint8Array<ArrayBuffer>,
    { name: "Ed25519" },
    extractable,
    ["sign"],
  );
}
