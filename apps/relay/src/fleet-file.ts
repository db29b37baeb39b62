/**
 * The fleet file an operator writes (`--fleet-file`): the relays a page may use, as a JSON array
 * (or `{"relays": [...]}`) of `{name, url, certificateSha256?, websocket?}`, checked by the same
 * validator as the page's (`parseRelayList`). Served in `wiregate.json` as `relays`; read at start
 * (a bad file stops the relay) and again on SIGHUP (a bad file then keeps the list it had).
 */
import { readFile } from "node:fs/promises";
import { parseRelayList, type RelayListEntry } from "@wiregate/relay-protocol";

/** Larger than any list of MAX_RELAYS entries needs. */
const MAX_FILE_BYTES = 64 * 1024;

/** The file's relays, or why it cannot be used (the message names the file). */
export async function readFleetFile(file: string): Promise<RelayListEntry[] | string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return `fleet file ${file}: ${(error as Error).message}`;
  }
  if (text.length > MAX_FILE_BYTES)
    return `fleet file ${file}: larger than ${MAX_FILE_BYTES} bytes`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `fleet file ${file}: not JSON (${(error as Error).message})`;
  }
  const list =
    typeof json === "object" && json !== null && !Array.isArray(json) && "relays" in json
      ? (json as { relays: unknown }).relays
      : json;
  const result = parseRelayList(list);
  return result.ok ? result.relays : `fleet file ${file}: ${result.error}`;
}
