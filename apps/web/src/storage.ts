/**
 * Opt-in persistence: only when the user ticks "Remember", the Connect screen's fields (private
 * key included, unencrypted) go to IndexedDB; "Forget" deletes them. Nothing else of the Connect
 * screen is stored (Browse's cookie jars are kept as a browser keeps cookies: browse/cookie-store.ts).
 */
import { idbRecord } from "./idb-record.js";

export interface SavedSettings {
  relay: string;
  token: string;
  upstream: string;
  config: string;
  peerPublicKey: string;
  certificateSha256: string;
  /** More relays of the fleet, one per line (absent in what older pages saved). */
  relays?: string;
  /** The Connect screen's DNS field (absent in what older pages saved). */
  dns?: string;
}

const settings = idbRecord<SavedSettings>("wiregate", "settings", "connect");

export const save = (value: SavedSettings): Promise<void> => settings.save(value);
export const loadSaved = (): Promise<SavedSettings | undefined> => settings.load();
export const forgetSaved = (): Promise<void> => settings.forget();
