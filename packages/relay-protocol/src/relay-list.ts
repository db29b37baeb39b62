/**
 * A fleet of relays as `wiregate.json` names it (`relays`) and as a relay's operator writes it
 * (`--fleet-file`): each relay's name, WebTransport URL and, where needed, its certificate hash
 * and a WebSocket URL. One validator for the relay and the page; every error names the entry and
 * the field.
 */

export interface RelayListEntry {
  /** Shown on the page ("Relay: eu-1"). */
  name: string;
  /** https:// URL of the relay's WebTransport endpoint. */
  url: string;
  /** Hex SHA-256 of the relay's certificate, for native WebTransport to a self-signed one. */
  certificateSha256?: string;
  /** ws:// or wss:// URL of the relay's WebSocket mapping, when not at `url`. */
  websocket?: string;
}

/** At most this many relays: the page measures each one when it connects. */
export const MAX_RELAYS = 16;
const MAX_NAME = 64;
const MAX_URL = 2048;
const FIELDS: ReadonlySet<string> = new Set(["name", "url", "certificateSha256", "websocket"]);

export type RelayListResult = { ok: true; relays: RelayListEntry[] } | { ok: false; error: string };

function urlWith(text: unknown, schemes: readonly string[]): URL | undefined {
  if (typeof text !== "string" || text.length > MAX_URL) return undefined;
  try {
    const url = new URL(text);
    return schemes.includes(url.protocol) ? url : undefined;
  } catch {
    return undefined;
  }
}

function entryOf(value: unknown, at: string): RelayListEntry | string {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return `${at}: must be an object with name and url`;
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !FIELDS.has(key));
  if (unknown !== undefined)
    return `${at}.${unknown}: unknown field (known: ${[...FIELDS].join(", ")})`;
  const { name, url, certificateSha256, websocket } = fields;
  if (typeof name !== "string" || !/^[\p{L}\p{N}][\p{L}\p{N} ._:-]*$/u.test(name))
    return `${at}.name: must be text of letters, digits, space, '.', '_', ':' or '-'`;
  if (name.length > MAX_NAME) return `${at}.name: longer than ${MAX_NAME} characters`;
  if (!urlWith(url, ["https:"])) return `${at}.url: must be an https:// URL`;
  const entry: RelayListEntry = { name, url: url as string };
  if (certificateSha256 !== undefined && certificateSha256 !== "") {
    if (typeof certificateSha256 !== "string" || !/^[0-9a-f]{64}$/i.test(certificateSha256))
      return `${at}.certificateSha256: must be 64 hex digits (a SHA-256)`;
    entry.certificateSha256 = certificateSha256.toLowerCase();
  }
  if (websocket !== undefined && websocket !== "") {
    if (!urlWith(websocket, ["ws:", "wss:"]))
      return `${at}.websocket: must be a ws:// or wss:// URL`;
    entry.websocket = websocket as string;
  }
  return entry;
}

/** Checks a relay list: an array of at most MAX_RELAYS entries with distinct names and URLs. */
export function parseRelayList(value: unknown): RelayListResult {
  if (!Array.isArray(value)) return { ok: false, error: "relays: must be an array" };
  if (value.length > MAX_RELAYS)
    return { ok: false, error: `relays: ${value.length} entries, at most ${MAX_RELAYS}` };
  const relays: RelayListEntry[] = [];
  for (const [index, item] of value.entries()) {
    const entry = entryOf(item, `relays[${index}]`);
    if (typeof entry === "string") return { ok: false, error: entry };
    const same = relays.find((r) => r.name === entry.name || r.url === entry.url);
    if (same)
      return {
        ok: false,
        error: `relays[${index}]: ${same.name === entry.name ? `name "${entry.name}"` : `url ${entry.url}`} appears twice`,
      };
    relays.push(entry);
  }
  return { ok: true, relays };
}

/**
 * The Connect screen's (and the query string's) form: one relay per line, `NAME URL [SHA256]`,
 * blank lines and `#` comments ignored.
 */
export function parseRelayLines(text: string): RelayListResult {
  const items: Record<string, string>[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") continue;
    const [name, url, hash, ...rest] = line.split(/\s+/);
    if (!url || rest.length > 0)
      return { ok: false, error: `line ${index + 1}: expected NAME URL [CERTIFICATE-SHA256]` };
    items.push({ name: name!, url, ...(hash ? { certificateSha256: hash } : {}) });
  }
  return parseRelayList(items);
}

/** The line form of a list (what `parseRelayLines` reads). */
export function formatRelayLines(relays: readonly RelayListEntry[]): string {
  return relays
    .map((r) => [r.name, r.url, r.certificateSha256].filter(Boolean).join(" "))
    .join("\n");
}
