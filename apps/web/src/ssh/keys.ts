/**
 * The user's SSH key: an Ed25519 key generated in the page (ed25519.ts), or imported: OpenSSH's
 * own private key format (what `ssh-keygen` writes; unencrypted Ed25519 or ECDSA) is read here,
 * PEM (PKCS#8, SEC1, PKCS#1: ECDSA, RSA) by @microsoft/dev-tunnels-ssh-keys. The public half is
 * shown as an `authorized_keys` line.
 */
import { type KeyPair, SshAlgorithms, BigInt as SshBigInt } from "@microsoft/dev-tunnels-ssh";
import { exportPrivateKey, importKey } from "@microsoft/dev-tunnels-ssh-keys";
import { Buffer } from "buffer";
import { ED25519, Ed25519KeyPair, sshString } from "./ed25519.js";

// The keys library's `const enum`s, which isolated modules cannot import: KeyFormat.Pkcs8,
// KeyEncoding.Pem.
const FORMAT_PKCS8 = 5;
const ENCODING_PEM = 3;

export async function generateKey(comment: string): Promise<KeyPair> {
  const key = new Ed25519KeyPair();
  await key.generate();
  key.comment = comment;
  return key;
}

/** `ssh-ed25519 AAAA… comment`, for authorized_keys. */
export async function publicLine(key: KeyPair): Promise<string> {
  const blob = await key.getPublicKeyBytes();
  if (!blob) throw new Error("no public key");
  return `${key.keyAlgorithmName} ${blob.toString("base64")}${key.comment ? ` ${key.comment}` : ""}`;
}

/**
 * The key as text for the page's own storage, when the user asks to remember it: Ed25519 in
 * OpenSSH's format, the others as PKCS#8 PEM. Both are read back by importPrivateKey.
 */
export async function privateText(key: KeyPair): Promise<string> {
  if (key instanceof Ed25519KeyPair) return openSshText(key);
  return exportPrivateKey(key, null, FORMAT_PKCS8, ENCODING_PEM);
}

/** OpenSSH's unencrypted "openssh-key-v1" format of an Ed25519 key. */
function openSshText(key: Ed25519KeyPair): string {
  const { secret, publicKey } = key;
  if (!secret || !publicKey) throw new Error("no private key");
  const type = Buffer.from(ED25519);
  const blob = Buffer.concat([sshString(type), sshString(publicKey)]);
  const check = Buffer.from(crypto.getRandomValues(new Uint8Array(4)));
  let secretPart = Buffer.concat([
    check,
    check,
    sshString(type),
    sshString(publicKey),
    sshString(Buffer.concat([secret, publicKey])),
    sshString(Buffer.from(key.comment ?? "")),
  ]);
  const padding = Buffer.from(
    Array.from({ length: (8 - (secretPart.length % 8)) % 8 }, (_, i) => i + 1),
  );
  secretPart = Buffer.concat([secretPart, padding]);
  const none = Buffer.from("none");
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "latin1"),
    sshString(none),
    sshString(none),
    sshString(Buffer.alloc(0)),
    Buffer.from([0, 0, 0, 1]),
    sshString(blob),
    sshString(secretPart),
  ]);
  const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
  return [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    ...lines,
    "-----END OPENSSH PRIVATE KEY-----",
    "",
  ].join("\n");
}

export async function importPrivateKey(text: string): Promise<KeyPair> {
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----")) return importOpenSsh(trimmed);
  if (!trimmed.startsWith("-----BEGIN ")) {
    throw new Error("not a private key: expected an OpenSSH or PEM private key file");
  }
  try {
    return await importKey(trimmed, null);
  } catch (error) {
    throw new Error(`cannot read this key: ${(error as Error).message}`);
  }
}

const CURVES: Record<string, string> = {
  "ecdsa-sha2-nistp256": "nistp256",
  "ecdsa-sha2-nistp384": "nistp384",
  "ecdsa-sha2-nistp521": "nistp521",
};

/** OpenSSH's "openssh-key-v1" format (PROTOCOL.key in OpenSSH's sources), unencrypted. */
async function importOpenSsh(text: string): Promise<KeyPair> {
  const body = text.replace(/-----(BEGIN|END) OPENSSH PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  const bytes = Buffer.from(body, "base64");
  const r = new Reader(bytes);
  if (r.bytes(15).toString("latin1") !== "openssh-key-v1\0") {
    throw new Error("not an OpenSSH private key (no openssh-key-v1 magic)");
  }
  const cipher = r.string().toString();
  const kdf = r.string().toString();
  r.string(); // KDF options
  if (cipher !== "none" || kdf !== "none") {
    throw new Error(
      "this key is protected by a passphrase, which the page cannot decrypt: remove it on a copy first (ssh-keygen -p -N '' -f copy)",
    );
  }
  if (r.uint32() !== 1) throw new Error("an OpenSSH key file with more than one key");
  r.string(); // the public key
  const secret = new Reader(r.string());
  const check = secret.uint32();
  if (secret.uint32() !== check) throw new Error("corrupt OpenSSH private key");
  const type = secret.string().toString();
  if (type === ED25519) {
    const publicKey = secret.string();
    const pair = secret.string(); // seed, then the public key again
    const comment = secret.string().toString();
    if (publicKey.length !== 32 || pair.length !== 64) throw new Error("corrupt Ed25519 key");
    const key = await Ed25519KeyPair.fromSecret(new Uint8Array(pair.subarray(0, 32)));
    if (!Buffer.from(key.publicKey!).equals(publicKey)) throw new Error("corrupt Ed25519 key");
    key.comment = comment;
    return key;
  }
  const curve = CURVES[type];
  if (!curve) throw new Error(`unsupported key type ${type}: use Ed25519 or ECDSA`);
  secret.string(); // curve name again
  const point = secret.string();
  const d = secret.string();
  const comment = secret.string().toString();
  const half = (point.length - 1) / 2;
  if (point[0] !== 4 || !Number.isInteger(half)) throw new Error("corrupt ECDSA public point");
  const key = SshAlgorithms.publicKey.ecdsaSha2Nistp256!.createKeyPair();
  const unsigned = { unsigned: true };
  await key.importParameters({
    curve: { name: curve },
    x: SshBigInt.fromBytes(point.subarray(1, 1 + half), unsigned),
    y: SshBigInt.fromBytes(point.subarray(1 + half), unsigned),
    d: SshBigInt.fromBytes(d, unsigned),
  } as Parameters<KeyPair["importParameters"]>[0]);
  key.comment = comment;
  return key;
}

class Reader {
  #at = 0;
  constructor(readonly buffer: Buffer) {}

  bytes(n: number): Buffer {
    if (this.#at + n > this.buffer.length) throw new Error("truncated OpenSSH private key");
    const out = this.buffer.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }

  uint32(): number {
    return this.bytes(4).readUInt32BE(0);
  }

  string(): Buffer {
    return this.bytes(this.uint32());
  }
}
