/**
 * The revocation list: `jti`s and `sub`s whose tokens the relay refuses and whose open sessions
 * it ends. A text file, one entry a line (`jti VALUE` or `sub VALUE`; blank lines and `#` comments
 * skipped), reread on SIGHUP and when it changes on disk (watched like the certificate files). A
 * file that fails to parse leaves the previous list in force and says which line is wrong.
 */

import { readFile, stat } from "node:fs/promises";

/** Large enough for a big organisation's revocations, small enough to hold in memory. */
export const DENY_FILE_MAX_BYTES = 16 * 1024 * 1024;

export interface DenyList {
  jti: ReadonlySet<string>;
  sub: ReadonlySet<string>;
}

export const EMPTY_DENY_LIST: DenyList = { jti: new Set(), sub: new Set() };

export function isDenied(
  list: DenyList,
  who: { subject: string; jti: string | undefined },
): boolean {
  return list.sub.has(who.subject) || (who.jti !== undefined && list.jti.has(who.jti));
}

/** Parses the file's text; an error names the first bad line. */
export function parseDenyList(text: string): DenyList | string {
  const jti = new Set<string>();
  const sub = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(jti|sub)\s+(\S{1,256})$/.exec(line);
    if (!match) return `line ${i + 1}: expected "jti VALUE" or "sub VALUE"`;
    (match[1] === "jti" ? jti : sub).add(match[2]!);
  }
  return { jti, sub };
}

export async function readDenyList(file: string): Promise<DenyList | string> {
  try {
    const size = (await stat(file)).size;
    if (size > DENY_FILE_MAX_BYTES)
      return `deny file ${file}: ${size} bytes is over the ${DENY_FILE_MAX_BYTES}-byte limit`;
    const parsed = parseDenyList(await readFile(file, "utf8"));
    return typeof parsed === "string" ? `deny file ${file}: ${parsed}` : parsed;
  } catch (error) {
    return `deny file ${file}: ${(error as Error).message}`;
  }
}
