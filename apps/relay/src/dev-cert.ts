/**
 * Self-signed development certificate: ECDSA P-256, at most 14 days valid (what Chromium's
 * `serverCertificateHashes` accepts), regenerated when it is about to expire.
 * Node can make the key pair but not the X.509, so the certificate's DER is assembled here.
 */

import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from "node:crypto";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Chromium refuses hashes of certificates valid for more than 14 days. */
export const DEV_CERT_VALIDITY_MS = 13 * DAY_MS;
/** Regenerate when less than this remains. */
const RENEW_BEFORE_MS = DAY_MS;

export interface CertificateMaterial {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the leaf certificate's DER, for `serverCertificateHashes`. */
  sha256: Uint8Array;
  validFrom: Date;
  validTo: Date;
  generated: boolean;
}

// --- minimal DER encoder -------------------------------------------------------------------

function derLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(contents);
  return Buffer.concat([Uint8Array.of(tag), derLength(body.length), body]);
}

const sequence = (...items: Uint8Array[]) => tlv(0x30, ...items);
const set = (...items: Uint8Array[]) => tlv(0x31, ...items);
const explicit = (n: number, item: Uint8Array) => tlv(0xa0 | n, item);

function oid(dotted: string): Uint8Array {
  const parts = dotted.split(".").map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128))
      chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}

/** A DER INTEGER for unsigned big-endian bytes: minimal length, a zero byte only before a high bit. */
function positiveInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  return tlv(0x02, minimal[0]! & 0x80 ? Buffer.concat([Uint8Array.of(0), minimal]) : minimal);
}

function utcTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2025-01-02T03:04:05.678Z
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13);
  return tlv(0x17, Buffer.from(`${text}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, "ascii"));
}

function ipBytes(address: string): Uint8Array {
  if (isIP(address) === 4) return Uint8Array.from(address.split(".").map(Number));
  // Expand "::" then write eight 16-bit groups.
  const [head = "", tail = ""] = address.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = address.includes("::") && tail ? tail.split(":") : [];
  const zeros = new Array(8 - headGroups.length - tailGroups.length).fill("0");
  const groups = address.includes("::") ? [...headGroups, ...zeros, ...tailGroups] : headGroups;
  const out = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  });
  return out;
}

const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

function buildCertificate(
  privateKey: KeyObject,
  publicKey: KeyObject,
  names: string[],
  notBefore: Date,
): Buffer {
  const name = sequence(
    set(sequence(oid("2.5.4.3"), tlv(0x0c, Buffer.from("wiregate-relay development")))),
  );
  const altNames = names.map((n) =>
    isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, "ascii")),
  );
  const extension = (id: string, critical: boolean, value: Uint8Array) =>
    sequence(oid(id), ...(critical ? [tlv(0x01, Uint8Array.of(0xff))] : []), tlv(0x04, value));
  const extensions = sequence(
    extension("2.5.29.17", false, sequence(...altNames)),
    extension("2.5.29.19", true, sequence()), // basicConstraints: not a CA
    extension("2.5.29.15", true, tlv(0x03, Uint8Array.of(0x07, 0x80))), // keyUsage: digitalSignature
    extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage: serverAuth
  );
  // RFC 5280: a positive serial of at most 20 octets; 0x40 keeps it 16 octets long and positive.
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const tbs = sequence(
    explicit(0, tlv(0x02, Uint8Array.of(2))),
    positiveInteger(serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(utcTime(notBefore), utcTime(new Date(notBefore.getTime() + DEV_CERT_VALIDITY_MS))),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    explicit(3, extensions),
  );
  const signature = sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" });
  return Buffer.from(sequence(tbs, ECDSA_WITH_SHA256, tlv(0x03, Uint8Array.of(0), signature)));
}

function toPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${base64.trimEnd()}\n-----END ${label}-----\n`;
}

/** Creates a fresh certificate for the given DNS names and IP addresses. */
export function generateDevCertificate(names: string[], now = new Date()): CertificateMaterial {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  // Back-date a minute so a slightly slow client clock still accepts it.
  const der = buildCertificate(privateKey, publicKey, names, new Date(now.getTime() - 60_000));
  const certPem = toPem(der, "CERTIFICATE");
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return describe(certPem, keyPem, true);
}

/** The leaf (first) certificate of a PEM chain and its key, described. */
/** The DNS names a certificate covers (its subjectAltName's), wildcards included. */
export function certificateDnsNames(certPem: string): string[] {
  const alt = new X509Certificate(certPem).subjectAltName ?? "";
  return alt
    .split(", ")
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4).toLowerCase());
}

export function describe(certPem: string, keyPem: string, generated: boolean): CertificateMaterial {
  const cert = new X509Certificate(certPem);
  return {
    certPem,
    keyPem,
    sha256: new Uint8Array(createHash("sha256").update(cert.raw).digest()),
    validFrom: new Date(cert.validFrom),
    validTo: new Date(cert.validTo),
    generated,
  };
}

/** Reads a PEM certificate and key given by the operator. */
export async function loadCertificate(
  certFile: string,
  keyFile: string,
): Promise<CertificateMaterial> {
  const [certPem, keyPem] = await Promise.all([
    readFile(certFile, "utf8"),
    readFile(keyFile, "utf8"),
  ]);
  // Files replaced one after the other may not match for a moment.
  if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem)))
    throw new Error(`${keyFile} is not the key of ${certFile}`);
  return describe(certPem, keyPem, false);
}

/** Loads the development certificate from `dir`, making a new one if missing or expiring. */
export async function ensureDevCertificate(
  dir: string,
  names: string[],
  now = new Date(),
): Promise<CertificateMaterial> {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  try {
    const existing = await loadCertificate(certFile, keyFile);
    // A wildcard asked for (a Browse domain) that the kept certificate lacks: a new one.
    const x509 = new X509Certificate(existing.certPem);
    const wildcards = names.filter((n) => n.startsWith("*."));
    const covered = wildcards.every((n) => x509.checkHost(`x${n.slice(1)}`) !== undefined);
    if (covered && existing.validTo.getTime() - now.getTime() > RENEW_BEFORE_MS) {
      await ownerOnly(keyFile);
      return existing;
    }
  } catch {
    // Missing or unreadable: make a new one.
  }
  const fresh = generateDevCertificate(names, now);
  await mkdir(dir, { recursive: true });
  await writeSecret(keyFile, fresh.keyPem);
  await writeFile(certFile, fresh.certPem);
  return fresh;
}

/**
 * Writes a file only its owner can read. `mode` applies only when a file is created, so an older,
 * looser file is removed first rather than rewritten in place.
 */
export async function writeSecret(file: string, text: string): Promise<void> {
  await rm(file, { force: true });
  await writeFile(file, text, { mode: 0o600, flag: "wx" });
}

/** Takes group and other permissions away from a file holding a secret. */
export async function ownerOnly(file: string): Promise<void> {
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
}

export function hexHash(hash: Uint8Array): string {
  return Buffer.from(hash).toString("hex");
}
