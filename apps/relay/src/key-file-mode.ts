/**
 * A private key file given with `--key` must not be readable by others. As PostgreSQL does for its
 * server key: owner-only (0600, 0400), or group-readable (0640) when root owns it (the usual
 * `ssl-cert` group setup); anything else refuses to start, saying how to fix it. The relay never
 * changes a file it did not write.
 */

import { stat } from "node:fs/promises";

/** Why the key file's mode is refused, or undefined when it is safe. */
export function keyModeRefusal(mode: number, ownerUid: number): string | undefined {
  const loose = mode & 0o077;
  if (loose === 0) return undefined;
  if (loose === 0o040 && ownerUid === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  return `is mode ${octal}: readable or writable by others (allowed: 0600, or 0640 owned by root); run chmod 600 on it`;
}

/** Throws when `keyFile` is open to others (see keyModeRefusal). */
export async function checkKeyFileMode(keyFile: string): Promise<void> {
  const { mode, uid } = await stat(keyFile);
  const refusal = keyModeRefusal(mode, uid);
  if (refusal) throw new Error(`relay: the private key file ${keyFile} ${refusal}`);
}
