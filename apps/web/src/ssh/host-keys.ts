/**
 * Host keys as OpenSSH checks them: trust on first use, then the same key every time. A key is
 * named by its type and its SHA-256 fingerprint exactly as `ssh-keygen -lf` prints it
 * (`SHA256:` + unpadded base64 of the hash of the public key blob).
 */
import type { KeyPair } from "@microsoft/dev-tunnels-ssh";

export interface HostKey {
  /** The key's type from its blob: ssh-rsa, ecdsa-sha2-nistp256, … */
  type: string;
  fingerprint: string;
  /** The public key blob, base64 (as in known_hosts). */
  blob: string;
}

/** `true` to go on, or why not (the message the screen shows). */
export type HostKeyCheck = (key: HostKey) => Promise<true | string>;

export async function hostKeyOf(key: KeyPair): Promise<HostKey> {
  const blob = await key.getPublicKeyBytes();
  if (!blob) throw new Error("the server sent no host key");
  return describeBlob(new Uint8Array(blob));
}

export async function describeBlob(blob: Uint8Array): Promise<HostKey> {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const typeLength = blob.length >= 4 ? view.getUint32(0) : 0;
  if (typeLength === 0 || 4 + typeLength > blob.length) throw new Error("malformed public key");
  const type = new TextDecoder().decode(blob.subarray(4, 4 + typeLength));
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", blob as Uint8Array<ArrayBuffer>),
  );
  return {
    type,
    fingerprint: `SHA256:${toBase64(hash).replace(/=+$/, "")}`,
    blob: toBase64(blob),
  };
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** The known hosts of this page: in memory, saved only when the user asks. */
export class KnownHosts {
  readonly #hosts = new Map<string, HostKey>();

  constructor(entries: [string, HostKey][] = []) {
    for (const [name, key] of entries) this.#hosts.set(name, key);
  }

  static id(host: string, port: number): string {
    return port === 22 ? host : `[${host}]:${port}`;
  }

  get(id: string): HostKey | undefined {
    return this.#hosts.get(id);
  }

  trust(id: string, key: HostKey): void {
    this.#hosts.set(id, key);
  }

  remove(id: string): void {
    this.#hosts.delete(id);
  }

  entries(): [string, HostKey][] {
    return [...this.#hosts];
  }

  /**
   * What OpenSSH does: a host seen before must show the same key (refused loudly otherwise,
   * with both fingerprints); a new one is `unknown` and the user decides.
   */
  check(id: string, key: HostKey): "known" | "unknown" | { changed: HostKey } {
    const known = this.#hosts.get(id);
    if (!known) return "unknown";
    if (known.type === key.type && known.blob === key.blob) return "known";
    return { changed: known };
  }
}
