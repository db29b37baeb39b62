import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
} from "node:crypto";
import { abytes } from "../validate.js";
import { checkAeadArguments, checkSealInto, counterNonces, TAG_LENGTH } from "./arguments.js";
import { nobleCrypto } from "./noble.js";
import type { CryptoBackend } from "./types.js";

const AEAD_OPTIONS = { authTagLength: TAG_LENGTH } as const;

const counterNonce = counterNonces(); // one array, reused: node copies the IV synchronously

// Raw X25519 keys enter OpenSSL as JWKs: node hands JWK key bytes straight to
// EVP_PKEY_new_raw_*_key, while a PKCS#8/SPKI DER envelope goes through OpenSSL's generic
// decoder: on node 20 the DER imports measured ~13x slower (about 380 us vs 29 us for a
// private key), which made X25519 here barely faster than noble.
function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/**
 * Key arrays already loaded into OpenSSL. Loading a private key derives its public half (a scalar
 * multiplication) and importing any JWK costs tens of microseconds, while the same keys recur:
 * the static key every handshake, a peer's static key every handshake, ephemeral keys 2–3 times.
 * Keyed by the array itself and checked against a copy, so a reused or overwritten array is never
 * mistaken for the key it held before.
 */
class LoadedKeys {
  readonly #byArray = new WeakMap<Uint8Array, { bytes: Uint8Array; key: KeyObject }>();

  constructor(
    private readonly label: string,
    private readonly load: (key: Uint8Array) => KeyObject,
  ) {}

  get(raw: Uint8Array): KeyObject {
    abytes(raw, 32, this.label);
    const loaded = this.#byArray.get(raw);
    if (loaded && sameBytes(loaded.bytes, raw)) return loaded.key;
    const key = this.load(raw);
    this.#byArray.set(raw, { bytes: raw.slice(), key });
    return key;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

// For a private OKP JWK node reads only `d`; `x` must be a string but is never used (the public
// half is derived from `d`), so it is left empty rather than computed twice.
const privateKeys = new LoadedKeys("X25519 private key", (raw) =>
  createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: base64url(raw), x: "" }, format: "jwk" }),
);
const publicKeys = new LoadedKeys("X25519 public key", (raw) =>
  createPublicKey({ key: { kty: "OKP", crv: "X25519", x: base64url(raw) }, format: "jwk" }),
);

/** A node Buffer seen as a plain Uint8Array, without copying when it owns its whole memory. */
function plain(buffer: Buffer): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.length) {
    return new Uint8Array(buffer.buffer, 0, buffer.length);
  }
  return new Uint8Array(buffer);
}

/**
 * RFC 8439 AEAD with a raw 12-byte nonce. Exported for known-answer tests only: the RFC
 * vectors use nonces that WireGuard's counter layout cannot express.
 * @internal
 */
export function nodeSealWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const sealed = new Uint8Array(plaintext.length + TAG_LENGTH);
  nodeSealIntoWithNonce(key, nonce, plaintext, aad, sealed, 0);
  return sealed;
}

/**
 * {@link nodeSealWithNonce} writing ciphertext and tag into `out` at `offset`. node:crypto has no
 * cipher that takes a new nonce, so each message still gets its own cipher object; what is saved
 * is the copy of the sealed bytes into the message around them. @internal
 */
export function nodeSealIntoWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  checkAeadArguments(key, nonce);
  const length = plaintext.length;
  checkSealInto(length, out, offset);
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, AEAD_OPTIONS);
  // ChaCha20-Poly1305 with no associated data is the same as with empty associated data.
  if (aad.length > 0) cipher.setAAD(aad, { plaintextLength: length });
  // update() returns a new buffer (node has no output argument); `plaintext` may be `out` itself.
  out.set(cipher.update(plaintext), offset);
  cipher.final();
  out.set(cipher.getAuthTag(), offset + length);
}

/** Inverse of {@link nodeSealWithNonce}; `null` when authentication fails. @internal */
export function nodeOpenWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  checkAeadArguments(key, nonce);
  const bodyLength = ciphertext.length - TAG_LENGTH;
  if (bodyLength < 0) return null;
  const decipher = createDecipheriv("chacha20-poly1305", key, nonce, AEAD_OPTIONS);
  decipher.setAuthTag(ciphertext.subarray(bodyLength));
  if (aad.length > 0) decipher.setAAD(aad, { plaintextLength: bodyLength });
  const body = decipher.update(ciphertext.subarray(0, bodyLength));
  try {
    decipher.final();
  } catch {
    // final() throws when the tag does not match; the plaintext is discarded unseen.
    body.fill(0);
    return null;
  }
  return plain(body);
}

/**
 * Native backend on node:crypto (OpenSSL): much faster X25519 and ChaCha20-Poly1305.
 * OpenSSL exposes neither keyed BLAKE2s with a 16-byte output nor XChaCha20 through node,
 * so `mac`, `xseal` and `xopen` delegate to noble (they only run on handshake messages).
 */
export const nodeCrypto: CryptoBackend = {
  name: "node",

  x25519Public(privateKey) {
    const jwk = createPublicKey(privateKeys.get(privateKey)).export({ format: "jwk" });
    return plain(Buffer.from(jwk.x!, "base64url"));
  },

  x25519(privateKey, publicKey) {
    const privateKeyObject = privateKeys.get(privateKey);
    const publicKeyObject = publicKeys.get(publicKey);
    try {
      return plain(diffieHellman({ privateKey: privateKeyObject, publicKey: publicKeyObject }));
    } catch {
      // OpenSSL refuses a low-order point (all-zero result); the interface returns zeros.
      return new Uint8Array(32);
    }
  },

  hash(...parts) {
    const hasher = createHash("blake2s256");
    for (const part of parts) hasher.update(part);
    return plain(hasher.digest());
  },

  mac: nobleCrypto.mac,

  hmac(key, ...parts) {
    const mac = createHmac("blake2s256", key);
    for (const part of parts) mac.update(part);
    return plain(mac.digest());
  },

  seal(key, counter, plaintext, aad) {
    return nodeSealWithNonce(key, counterNonce(counter), plaintext, aad);
  },

  sealInto(key, counter, plaintext, aad, out, offset) {
    nodeSealIntoWithNonce(key, counterNonce(counter), plaintext, aad, out, offset);
  },

  open(key, counter, ciphertext, aad) {
    return nodeOpenWithNonce(key, counterNonce(counter), ciphertext, aad);
  },

  xseal: nobleCrypto.xseal,
  xopen: nobleCrypto.xopen,
};
