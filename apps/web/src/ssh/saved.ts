/**
 * Opt-in persistence for the SSH screen: only when the user ticks "Remember", its key (PKCS#8
 * PEM, unencrypted) and known hosts go to this browser's IndexedDB; "Forget" deletes them. They
 * never leave the page otherwise.
 */
import { idbRecord } from "../idb-record.js";
import type { HostKey } from "./host-keys.js";

export interface SavedSsh {
  privateKey?: string;
  /** The key's comment (PKCS#8 has no place for it). */
  keyComment?: string;
  knownHosts: [string, HostKey][];
}

const ssh = idbRecord<SavedSsh>("wiregate-ssh", "ssh", "ssh");

export const saveSsh = (saved: SavedSsh): Promise<void> => ssh.save(saved);
export const loadSsh = (): Promise<SavedSsh | undefined> => ssh.load();
export const forgetSsh = (): Promise<void> => ssh.forget();
