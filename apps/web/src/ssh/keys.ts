/**
 * The user's SSH key: an ECDSA key generated in the page (Web Crypto, through the SSH library),
 * or imported: OpenSSH's own private key format (what `ssh-keygen` writes; unencrypted ECDSA) is
 * read here, PEM (PKCS#8, SEC1, PKCS#1) by @microsoft/dev-tunnels-ssh-keys. The public half is
 * shown as an `authorized_keys` line. The library has no Ed25519 (docs/web.md).
 */
import { type KeyPair, SshAlgorithms, BigInt as SshBigInt } from "@microsoft/dev-tunnels-ssh";
import { exportPrivateKey, exportPublicKey, importKey } from "@microsoft/dev-tunnels-ssh-keys";
import { Buffer } from "buffer";

// The keys library's `const enum`s, which isolated modules cannot import: KeyFormat.Ssh and
// .Pkcs8, KeyEncoding.Pem.
const FORMAT_SSH = 1;
const FORMAT_PKCS8 = 5;
const ENCODING_PEM = 3;

export async function generateKey(comment: string): Promise<KeyPair> {
  const key = await SshAlgorithms.publicKey.ecdsaSha2Nistp256!.generateKeyPair();
  key.comment = comment;
  return key;
}

/** `ecdsa-sha2-nistp256 AAAA… comment`, for authorized_keys. */
export async function publicLine(key: KeyPair): Promise<string> {
  return (await exportPublicKey(key, FORMAT_SSH)).trim();
}

/** PKCS#8 PEM, for the page's own storage when the user asks to remember the key. */
export async function privatePem(key: KeyPair): Promise<string> {
  return exportPrivateKey(key, null, FORMAT_PKCS8, ENCODING_PEM);
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
  const curve = CURVES[type];
  if (!curve) {
    throw new Error(
      type === "ssh-ed25519"
        ? "Ed25519 keys are not supported by the page's SSH library: use an ECDSA key (ssh-keygen -t ecdsa)"
        : `unsupported key type ${type}: use an ECDSA key (ssh-keygen -t ecdsa)`,
    );
  }
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
